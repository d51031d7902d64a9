// Tables in the CLI's human output.
import Table from 'cli-table3';

/** A plain, compact table: no colours, so it reads the same in a terminal, a pipe or a log. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true } });
  t.push(...rows);
  return t.toString();
}
