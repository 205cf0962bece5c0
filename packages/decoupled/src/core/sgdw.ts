/**
 * SGDW: SGD with momentum and decoupled weight decay (Loshchilov & Hutter 2019, Algorithm 1):
 *
 *   theta_{t-1}' = theta_{t-1} * (1 - s_t * lambda_t),  s_t = lr_t (decayScale 'lr') or eta_t ('schedule')
 *   then the SGD momentum step of ./sgd.ts on theta_{t-1}' with the plain gradient (no L2 term).
 *
 * Unlike SGD's L2 term, the decay does not enter the momentum buffer, so lr and lambda can be tuned
 * separately (the paper's Figure 1).
 */
import type { ParamGroupInput } from './optimizer.js';
import { type SGDWOptions, SgdFamily, type SgdwHyper } from './sgd.js';

export class SGDW extends SgdFamily<SgdwHyper> {
  protected readonly decoupled = true;

  constructor(params: Float32Array[] | ParamGroupInput<SgdwHyper>[], options: SGDWOptions = {}) {
    super(params, options, 'SGDW');
  }
}
