import os from 'node:os';

/** What a reader needs to judge a benchmark number: where, when, how it was run. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  /** 1-minute load average when the run started (other work on the machine skews numbers). */
  loadAvg1: number;
  totalMemGiB: number;
  platform: string;
  node: string;
  date: string;
  command: string;
}

/**
 * Snapshot of the machine and the command line, for the JSON record of a run.
 *
 * @example
 * const m = machineInfo(); // { cpuModel: 'AMD EPYC', cores: 2, node: 'v20.…', … }
 */
export function machineInfo(script = 'bench:embed'): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    loadAvg1: Number(os.loadavg()[0]!.toFixed(2)),
    totalMemGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    command: [`npm run ${script}`, ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  };
}
