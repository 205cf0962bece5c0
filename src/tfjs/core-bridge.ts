/**
 * The bridge to the optimizer core: the tfjs optimizers do not re-derive any rule. A core optimizer
 * (Adam, AdamW, SGD, SGDW) is built over two empty placeholder params, one per decay group
 *
 *   group 0: decayed params      (the configured weightDecay)
 *   group 1: excluded params     (weightDecay 0)
 *
 * and each tfjs step runs the core's `step`, whose per-param hook is overridden to record the
 * scalars of each group (eta_t, lr_t, lambda_t, bias corrections, decay factor: all computed and
 * validated by the core) instead of updating the empty placeholders. The tfjs side then runs the
 * same update loops with those scalars on the backend's memory.
 */
import { Adam, type AdamHyper } from '../core/adam.js';
import { AdamW } from '../core/adamw.js';
import type { AdamScalars, SgdScalars } from '../core/kernels.js';
import type { Optimizer as CoreOptimizer } from '../core/optimizer.js';
import { SGD, type SgdHyper } from '../core/sgd.js';
import { SGDW } from '../core/sgdw.js';
import type { OptimizerKind } from '../core/state.js';

/** The scalars of one group for one step; SGD's `firstStep` is decided per variable. */
export type GroupScalars =
  | { readonly family: 'adam'; readonly scalars: AdamScalars }
  | { readonly family: 'sgd'; readonly scalars: Omit<SgdScalars, 'firstStep'> };

/** What the bridge exposes of a core optimizer. */
export interface ScalarSource {
  readonly kind: OptimizerKind;
  /** Steps taken, which is the 0-based index of the next step. */
  stepCount: number;
  /** Computes the scalars of both groups for step `stepCount` and advances it. */
  nextStep(): [GroupScalars, GroupScalars];
  /** The core's resolved hyperparameters of the decayed group (defaults filled in). */
  readonly hyper: Readonly<AdamHyper> | Readonly<SgdHyper>;
}

/** The public face of a core optimizer that the bridge uses. */
type CoreFace = Pick<CoreOptimizer<AdamHyper | SgdHyper>, 'stepCount' | 'paramGroups' | 'step'>;
type CoreCtor = new (params: unknown, options: unknown) => CoreFace;

const CORE: Record<OptimizerKind, CoreCtor> = {
  Adam: Adam as unknown as CoreCtor,
  AdamW: AdamW as unknown as CoreCtor,
  SGD: SGD as unknown as CoreCtor,
  SGDW: SGDW as unknown as CoreCtor,
};

/**
 * Builds the scalar source for `kind` with the core options (validated by the core constructor,
 * whose errors name the option). `coreOptions` must hold only core keys.
 */
export function scalarSource(kind: OptimizerKind, coreOptions: object): ScalarSource {
  const family: GroupScalars['family'] = kind.startsWith('Adam') ? 'adam' : 'sgd';
  const Base = CORE[kind];
  const recorded: unknown[] = [];
  // Overrides the core's per-param hook: record the group's scalars, touch nothing.
  const Probe = class extends Base {
    protected updateParam(index: number, _p: Float32Array, _g: Float32Array, s: unknown) {
      recorded[index] = s;
    }
  };
  const placeholders = [
    { params: [new Float32Array(0)] },
    { params: [new Float32Array(0)], weightDecay: 0 },
  ];
  const core = new Probe(placeholders, coreOptions);
  const empty = [new Float32Array(0), new Float32Array(0)];
  return {
    kind,
    get stepCount() {
      return core.stepCount;
    },
    set stepCount(value: number) {
      core.stepCount = value;
    },
    get hyper() {
      return core.paramGroups[0].hyper;
    },
    nextStep() {
      recorded.length = 0;
      core.step(empty);
      return [0, 1].map((i) => ({ family, scalars: recorded[i] }) as GroupScalars) as [
        GroupScalars,
        GroupScalars,
      ];
    },
  };
}
