/** What a CLI command may touch, passed in so commands run in tests without a real process. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
  env: NodeJS.ProcessEnv;
  onSignal(signal: NodeJS.Signals, handler: () => void): void;
  /**
   * Ends the process now with this code, for a forced exit: a hung shutdown step may hold the
   * event loop for good. Tests that drive a command in-process leave it out.
   */
  exit?(code: number): void;
}

export const processIo = (): CliIo => ({
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  env: process.env,
  onSignal: (signal, handler) => {
    process.on(signal, handler);
  },
  exit: (code) => process.exit(code),
});
