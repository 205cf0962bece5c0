/** The error raised for a missing, truncated or corrupt dataset file; it says how to get the data. */

export class DatasetError extends Error {
  readonly file: string;
  constructor(file: string, problem: string, howToGet: string) {
    super(`${file}: ${problem}. ${howToGet}`);
    this.name = 'DatasetError';
    this.file = file;
  }
}
