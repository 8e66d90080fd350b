import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * Runs client tools (skopeo, podman, ctr, redis-cli) as child processes, always asynchronously: the registry
 * under test lives in this same process, so a synchronous exec would block its event loop and the tool would hang.
 */

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Written to the tool's stdin (e.g. `--password-stdin`); without it stdin is empty. */
  input?: string;
}

/** A tool that could not start or exited non-zero, with everything it printed. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${command} exited ${code}\n${stderr}\n${stdout}`);
  }
}

/** Resolves with the exit code and output whatever the code; rejects only when the tool cannot start. */
export function runTool(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const { stdout: stdoutStream, stderr: stderrStream } = child as ChildProcessWithoutNullStreams;
    let stdout = '';
    let stderr = '';
    stdoutStream.on('data', (b: Buffer) => (stdout += b.toString()));
    stderrStream.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A tool that exits without reading its input must not turn into an EPIPE crash of the test process.
    child.stdin?.on('error', () => {});
    child.stdin?.end(o.input);
  });
}

/** Like runTool, but throws a CommandError when the tool cannot start or exits non-zero. */
export async function mustRun(cmd: string, args: readonly string[], o: RunOptions = {}): Promise<ToolResult> {
  const command = `${cmd} ${args.join(' ')}`;
  let r: ToolResult;
  try {
    r = await runTool(cmd, args, o);
  } catch (err) {
    throw new CommandError(command, (err as NodeJS.ErrnoException).code ?? null, '', String(err));
  }
  if (r.code !== 0) throw new CommandError(command, r.code, r.stdout, r.stderr);
  return r;
}

/** Stops a long-running child (a server under test): SIGTERM, then SIGKILL if it outlives `graceMs`. */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
