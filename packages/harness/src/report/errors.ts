/**
 * The report's one error for bad input: a sweep directory whose files cannot be reported (spec.json
 * missing, cut short or invalid). Its message is one line naming the file and what is wrong; the
 * CLI prints it as is and exits with code 2. Damaged records in results.jsonl and a damaged
 * trials.json do not raise it: they are skipped with a warning (see load.ts).
 */
export class SweepFileError extends Error {
  /** The damaged or missing file. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'SweepFileError';
    this.file = file;
  }
}
