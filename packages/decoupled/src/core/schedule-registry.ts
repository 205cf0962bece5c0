/**
 * The registry that rebuilds any schedule (or step-dependent weight decay) of this library from its
 * `config`, as a checkpoint or a tfjs config records it: config type -> allowed keys and builder.
 * It imports the schedule modules and none of them imports it, so there is no import circle.
 */
import { OptionError } from './errors.js';
import { normalizedWeightDecayForRestarts, RESTART_DECAY_KEYS } from './normalized-decay.js';
import type { ConfiguredSchedule, ScheduleConfig } from './schedule-config.js';
import {
  constant,
  cosine,
  linear,
  linearWarmup,
  perEpoch,
  sequence,
  stepDecay,
  WARM_RESTARTS_KEYS,
  warmRestarts,
} from './schedules.js';
import { checkKnownKeys } from './validate.js';

const CONFIG_KEYS: Record<ScheduleConfig['type'], readonly string[]> = {
  constant: ['type', 'value'],
  stepDecay: ['type', 'milestones', 'stepSize', 'gamma'],
  cosine: ['type', 'total', 'min'],
  warmRestarts: ['type', ...WARM_RESTARTS_KEYS],
  linear: ['type', 'from', 'to', 'steps'],
  linearWarmup: ['type', 'steps', 'from', 'after'],
  sequence: ['type', 'schedules', 'boundaries'],
  perEpoch: ['type', 'stepsPerEpoch', 'schedule'],
  normalizedDecayRestarts: ['type', ...RESTART_DECAY_KEYS],
};

/** Rebuilds a schedule (or a step-dependent weight decay) from its config, validating it. */
export function scheduleFromConfig(config: unknown): ConfiguredSchedule {
  const where = 'scheduleFromConfig';
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new OptionError('config', config, 'a schedule config object with a type', where);
  }
  const c = config as Record<string, unknown> & { type: unknown };
  const type = c.type;
  if (typeof type !== 'string' || !Object.hasOwn(CONFIG_KEYS, type)) {
    throw new OptionError(
      'config.type',
      type,
      `one of ${Object.keys(CONFIG_KEYS)
        .map((k) => `'${k}'`)
        .join(', ')}`,
      where,
    );
  }
  checkKnownKeys(c, CONFIG_KEYS[type as ScheduleConfig['type']], where, 'config.');
  const { type: _drop, ...rest } = c;
  const opts = rest as never;
  const nested = (key: string) => scheduleFromConfig(c[key]);
  switch (type as ScheduleConfig['type']) {
    case 'constant':
      return constant(c.value as number);
    case 'stepDecay':
      return stepDecay(opts);
    case 'cosine':
      return cosine(opts);
    case 'warmRestarts':
      return warmRestarts(opts);
    case 'linear':
      return linear(opts);
    case 'linearWarmup':
      return linearWarmup(
        { steps: c.steps as number, from: c.from as number },
        nested('after'),
      ) as ConfiguredSchedule;
    case 'sequence': {
      if (!Array.isArray(c.schedules)) {
        throw new OptionError('config.schedules', c.schedules, 'an array of configs', where);
      }
      const children = c.schedules.map((s) => scheduleFromConfig(s));
      return sequence(children, c.boundaries as number[]) as ConfiguredSchedule;
    }
    case 'perEpoch':
      return perEpoch(nested('schedule'), c.stepsPerEpoch as number) as ConfiguredSchedule;
    case 'normalizedDecayRestarts':
      return normalizedWeightDecayForRestarts(opts);
  }
}
