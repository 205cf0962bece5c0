/**
 * "Stop on the first signal, exit on the second", for every long-running command: the first
 * SIGINT or SIGTERM aborts the work's signal, so the work stops cleanly (a checkpoint, trials
 * handed back); a second one exits at once. Exit codes are the shell's, 128 + the signal number:
 * 130 for SIGINT, 143 for SIGTERM.
 */
import { constants } from 'node:os';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

export interface StopMessages {
  /** The line printed on the first signal. */
  stopping(signal: NodeJS.Signals): string;
  /** The line printed on the second signal, before exiting. */
  quitting?(signal: NodeJS.Signals): string;
}

/**
 * Runs `work` with a signal that aborts on the first SIGINT or SIGTERM; resolves with its value
 * and the signal that stopped it, if any.
 */
export async function untilStopped<T>(
  messages: StopMessages,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<{ value: T; stoppedBy: NodeJS.Signals | undefined }> {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      if (messages.quitting) process.stderr.write(`${messages.quitting(signal)}\n`);
      process.exit(signalExitCode(signal));
    }
    stoppedBy = signal;
    process.stderr.write(`${messages.stopping(signal)}\n`);
    controller.abort();
  };
  for (const name of STOP_SIGNALS) process.on(name, onSignal);
  try {
    const value = await work(controller.signal);
    return { value, stoppedBy };
  } finally {
    for (const name of STOP_SIGNALS) process.off(name, onSignal);
  }
}
