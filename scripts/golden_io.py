"""Shared by the make_golden_*.py scripts: float32 values as JSON numbers, atomic fixture writes."""

import json
import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')


def f32_list(values):
    """Float32 values as the shortest decimals that round-trip through float32 (Math.fround)."""
    return [float(np.format_float_positional(x, unique=True, trim='0')) if np.isfinite(x)
            else float(x) for x in np.asarray(values, dtype=np.float32).ravel()]


def write_fixture(name, data):
    """Writes test/fixtures/<name> atomically (a temporary file, then a rename)."""
    path = os.path.join(FIXTURES, name)
    tmp = path + '.tmp'
    with open(tmp, 'w') as fh:
        json.dump(data, fh, separators=(',', ':'))
        fh.write('\n')
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    print(f'wrote {os.path.normpath(path)}: {len(data["cases"])} cases')
