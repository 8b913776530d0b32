import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEER_PYTHON } from '../lib/torch-peer.js';

/** Repository root (bench/e2e/ is two levels down). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PEER = path.join(REPO, 'bench', 'peers', 'torch_e2e.py');
/** Threads for both sides: onnxruntime intra-op and torch.set_num_threads. */
export const THREADS = 2;

export const log = (msg: string): void => void process.stderr.write(`${msg}\n`);
export const round = (x: number, d = 2): number => Number(x.toFixed(d));

/** Why the PyTorch peer cannot run here, or undefined when `import torch, torchvision` works. */
export async function torchMissing(): Promise<string | undefined> {
  if (!existsSync(PEER_PYTHON)) return `${PEER_PYTHON} not found (apt-get install python3-torch python3-torchvision)`;
  const r = await runProcess(PEER_PYTHON, ['-c', 'import torch, torchvision'], 120_000);
  return r.code === 0 ? undefined : `${PEER_PYTHON} cannot import torch/torchvision (${r.stderr.trim().split('\n').pop() ?? 'no output'})`;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs a command to completion (killed after `timeoutMs`), timing its wall clock from spawn to
 * exit: for cold-start measurements that is what a user waits.
 *
 * @example
 * const r = await runProcess('node', ['-e', '1'], 10_000); r.seconds; // ~0.05
 */
export function runProcess(cmd: string, args: string[], timeoutMs: number, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/**
 * One bench/peers/torch_e2e.py subcommand; its JSON reply (the last stdout line).
 *
 * @example
 * const r = await runPeer(['embed', '--data', dir, '--model', 'resnet50']);
 */
export async function runPeer<T = Record<string, unknown>>(args: string[], timeoutMs = 600_000): Promise<T & { wall_s: number }> {
  const r = await runProcess(PEER_PYTHON, [PEER, '--threads', String(THREADS), ...args], timeoutMs);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !last.startsWith('{')) {
    throw new Error(`PyTorch peer ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  return { ...(JSON.parse(last) as T), wall_s: r.seconds };
}

/** Process CPU seconds (all threads: onnxruntime's, sharp's, wasm) since `from`. */
export function cpuSince(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}
