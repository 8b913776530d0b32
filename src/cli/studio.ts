import type { Command } from 'commander';
import { num } from './parse.js';
import { createStudio } from '../studio/server.js';

interface Flags {
  host: string;
  port: number;
  backbone?: string;
  weights?: string;
  inputSize?: number;
  token?: string;
  logLevel: 'info' | 'warn' | 'error' | 'silent' | 'debug';
}

export function registerStudio(program: Command): void {
  program
    .command('studio [projectDir]')
    .description('label, train, inspect and try a classifier in the browser, on a project folder (one sub-folder per class, as graft train reads)')
    .option('--host <host>', 'interface to bind (127.0.0.1: this machine only)', '127.0.0.1')
    .option('--port <n>', 'port (0: a free one)', num, 8765)
    .option('--backbone <name>', 'backbone for embeddings and training (saved in .graft/settings.json)')
    .option('--weights <w>', 'backbone weights (saved in .graft/settings.json)')
    .option('--input-size <n>', 'square input size (saved in .graft/settings.json)', num)
    .option('--token <t>', 'session token (default: a random one, printed in the URL)')
    .option('--log-level <level>', 'server log level (JSON lines on stdout)', 'warn')
    .action(async (projectDir: string | undefined, f: Flags) => {
      const studio = await createStudio({ project: projectDir ?? '.', host: f.host, port: f.port, backbone: f.backbone, weights: f.weights, inputSize: f.inputSize, token: f.token, logLevel: f.logLevel });
      const url = await studio.listen();
      process.stdout.write(`graft studio: ${studio.ctx.project.root}\n  open ${url}\n  (Ctrl-C to stop)\n`);
      const stop = () => void studio.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
