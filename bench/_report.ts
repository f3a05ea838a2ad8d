/** Small helpers shared by benchmarks: aligned figures and this process's peak memory. */
export function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(44)} ${value}\n`);
}

export const ms = (n: number) => `${n.toFixed(1)} ms`;

export function memory(): void {
  const { rss, heapUsed } = process.memoryUsage();
  line('memory (rss / heap used)', `${(rss / 2 ** 20).toFixed(0)} MiB / ${(heapUsed / 2 ** 20).toFixed(0)} MiB`);
}
