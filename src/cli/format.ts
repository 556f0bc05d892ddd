// Output formats shared by commands: runc's list table and json.
import { OciError } from '../errors.js';
import type { ContainerState } from '../lifecycle/query.js';

export function formatList(states: ContainerState[], o: { format: string; quiet: boolean }): string {
  if (o.quiet) return states.map((s) => s.id + '\n').join('');
  if (o.format === 'json') return JSON.stringify(states) + '\n';
  if (o.format !== 'table') throw new OciError('ERR_INVALID_ARGUMENT', `invalid format "${o.format}": use table or json`);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const s of states) rows.push([s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root']);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 4))).join('').trimEnd() + '\n').join('');
}
