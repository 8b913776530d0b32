import type { Command } from 'commander';

/** `graft models [--json]`: the registry, the only place that knows the list of architectures. */
export async function modelsTable() {
  const { listModels } = await import('../zoo/registry.js');
  return listModels().map((s) => ({
    name: s.name,
    params: s.params,
    inputShape: [...s.defaultInputShape],
    blocks: [...s.blocks],
    preprocessing: s.defaultPreprocess,
    weights: Object.keys(s.pretrained),
  }));
}

export function registerModels(program: Command): void {
  program
    .command('models')
    .description('list the architectures of the model zoo')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await modelsTable();
      if (o.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const w = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        process.stdout.write(
          `${r.name.padEnd(w)}  ${r.params.toLocaleString('en-US').padStart(12)} params  ${r.inputShape.join('x').padEnd(11)} ${r.preprocessing.padEnd(5)}  weights: ${r.weights.join(', ')}  blocks: ${r.blocks.join(' ')}\n`,
        );
      }
    });
}
