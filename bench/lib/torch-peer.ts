import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter: python3-torch is installed for it, not for any venv on PATH. */
export const PEER_PYTHON = process.env.GRAFT_BENCH_PYTHON ?? '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'peers', 'torch_embed.py');

export interface TorchInfo {
  torch: string;
  torchvision: string;
  python: string;
  threads: number;
  mkldnn: boolean;
}

type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

/**
 * The PyTorch peer (bench/peers/torch_embed.py --serve) as a long-lived child process, so its
 * samples can be interleaved with the other engines' in one run. Requests are sequential: the
 * peer computes only while the driver waits on it, so engines never compete for the cores.
 *
 * @example
 * const peer = await TorchPeer.start(2);
 * if (typeof peer === 'string') console.log('skipped:', peer);
 * else { await peer.load('resnet50', 224, 16); const s = await peer.run('resnet50', 'contiguous', 1); await peer.close(); }
 */
export class TorchPeer {
  private readonly pending: ((line: string) => void)[] = [];

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: Interface,
    readonly info: TorchInfo,
  ) {
    lines.on('line', (l) => this.pending.shift()?.(l));
  }

  /** Starts the peer, or returns why it cannot run (no interpreter, no torch). */
  static async start(threads: number, timeoutMs = 60_000): Promise<TorchPeer | string> {
    if (!existsSync(PEER_PYTHON)) return `${PEER_PYTHON} not found (install Debian's python3-torch python3-torchvision)`;
    const child = spawn(PEER_PYTHON, [SCRIPT, '--serve', '--threads', String(threads)], { stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout });
    const first = await new Promise<string | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      lines.once('line', (l) => (clearTimeout(timer), resolve(l)));
      child.once('exit', () => (clearTimeout(timer), resolve(null)));
      child.once('error', () => (clearTimeout(timer), resolve(null)));
    });
    if (first === null) {
      child.kill();
      const why = stderr.trim().split('\n').pop() || 'it exited without output';
      return `${PEER_PYTHON} could not start the PyTorch peer (${why})`;
    }
    const { torch, torchvision, python, threads: t, mkldnn } = JSON.parse(first) as TorchInfo;
    const info: TorchInfo = { torch, torchvision, python, threads: t, mkldnn };
    return new TorchPeer(child, lines, info);
  }

  private request(msg: object): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error('PyTorch peer exited unexpectedly'));
      this.child.once('exit', onExit);
      this.pending.push((line) => {
        this.child.off('exit', onExit);
        resolve(JSON.parse(line) as Reply);
      });
      this.child.stdin.write(JSON.stringify(msg) + '\n');
    });
  }

  private async ask(msg: object): Promise<Record<string, unknown>> {
    const r = await this.request(msg);
    if (!r.ok) throw new Error(`PyTorch peer: ${r.error}`);
    return r;
  }

  /** Builds a torchvision model (random init, classifier → Identity) in both memory formats. */
  async load(model: string, size: number, batch: number): Promise<number> {
    return (await this.ask({ cmd: 'load', model, size, batch })).load_s as number;
  }

  /** Seconds for `batches` forward passes of one batch in the given memory format. */
  async run(model: string, layout: 'contiguous' | 'channels_last', batches: number): Promise<number> {
    return (await this.ask({ cmd: 'run', model, layout, batches })).seconds as number;
  }

  async unload(model: string): Promise<void> {
    await this.ask({ cmd: 'unload', model });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    this.child.stdin.end();
    await exited;
    this.lines.close();
  }
}
