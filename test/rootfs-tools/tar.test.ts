// The tar reader alone: header formats, chunking, and how it ends.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarReader, type TarEntry } from '../../rootfs-tools/src/tar.js';
import { makeTemp, removeTemp, tarArchive, tarEntry } from './helpers.js';

function read(archive: Buffer, chunk = archive.length): { entries: TarEntry[]; data: Map<string, string> } {
  const entries: TarEntry[] = [];
  const data = new Map<string, string>();
  const r = new TarReader((e) => {
    entries.push(e);
    let s = '';
    return { write: (b) => { s += b.toString('latin1'); }, end: () => { data.set(e.name, s); } };
  });
  for (let i = 0; i < archive.length; i += chunk) r.push(archive.subarray(i, i + chunk));
  r.finish();
  return { entries, data };
}

let work: string;
beforeAll(() => {
  work = makeTemp('tar');
});
afterAll(() => removeTemp(work));

describe('TarReader', () => {
  it('gives the same result whatever the chunking', () => {
    const archive = tarArchive([
      { name: 'a', data: 'x'.repeat(1000) },
      { name: 'd/', type: 'dir', mode: 0o1777 },
      { name: 'l', type: 'symlink', linkname: 'a' },
      { name: `${'long/'.repeat(40)}name`, data: 'long', xattrs: { 'user.k': Buffer.from([0, 1, 255]) } },
      { name: 'dev', type: 'char', devmajor: 4, devminor: 64 },
    ]);
    const whole = read(archive);
    for (const chunk of [1, 7, 511, 512, 513]) expect(read(archive, chunk)).toEqual(whole);
    expect(whole.entries.map((e) => [e.name, e.type])).toEqual([
      ['a', 'file'], ['d/', 'dir'], ['l', 'symlink'], [`${'long/'.repeat(40)}name`, 'file'], ['dev', 'char'],
    ]);
    expect(whole.entries[1].mode).toBe(0o1777);
    expect(whole.entries[3].xattrs?.get('user.k')).toEqual(Buffer.from([0, 1, 255]));
    expect(whole.entries[4]).toMatchObject({ devmajor: 4, devminor: 64 });
    expect(whole.data.get('a')).toBe('x'.repeat(1000));
  });

  it('reads what GNU tar writes: long names and links (GNU format), pax, and large ids', () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'd'.repeat(120)), { recursive: true });
    writeFileSync(join(src, 'd'.repeat(120), 'f'.repeat(120)), 'deep');
    execFileSync('ln', ['-s', `${'t'.repeat(150)}`, join(src, 'sym')]);
    for (const format of ['gnu', 'pax']) {
      const file = join(work, `${format}.tar`);
      execFileSync('tar', ['-C', src, `--format=${format}`, '--owner=big:3000000', '--group=root:0', '-cf', file, '.']);
      const { entries, data } = read(readFileSync(file));
      const deep = `./${'d'.repeat(120)}/${'f'.repeat(120)}`;
      expect(data.get(deep)).toBe('deep');
      expect(entries.find((e) => e.name === './sym')?.linkname).toBe('t'.repeat(150));
      expect(entries.find((e) => e.name === deep)?.uid).toBe(3000000);
    }
  });

  it('accepts a stream without the end-of-archive blocks, or without the last padding (umoci insert)', () => {
    const one = tarEntry({ name: 'a', data: 'abc' });
    expect(read(one).data.get('a')).toBe('abc');
    expect(read(one.subarray(0, 512 + 3)).data.get('a')).toBe('abc');
  });

  it('refuses a stream that ends inside a header or inside file data', () => {
    const one = tarEntry({ name: 'a', data: 'abcdef' });
    expect(() => read(one.subarray(0, 300))).toThrow('tar stream is truncated (ends inside a header, after 300 bytes)');
    expect(() => read(one.subarray(0, 515))).toThrow('tar stream is truncated (ends inside the entry at offset 0, after 515 bytes)');
  });

  it('refuses bad checksums, sparse files and unknown entry types', () => {
    const bad = Buffer.from(tarEntry({ name: 'a', data: 'x' }));
    bad[0] = 0x62;
    expect(() => read(bad)).toThrow('invalid tar header at offset 0: checksum mismatch');
    const sparse = Buffer.from(tarEntry({ name: 's', data: '' }));
    sparse[156] = 0x53; // 'S'
    fixChecksum(sparse);
    expect(() => read(sparse)).toThrow('GNU sparse files are not supported');
    const odd = Buffer.from(tarEntry({ name: 'v', data: '' }));
    odd[156] = 0x56; // 'V'
    fixChecksum(odd);
    expect(() => read(odd)).toThrow('unsupported entry type "V"');
  });

  it('takes base-256 sizes and ignores data sizes on header-only types (like Go)', () => {
    const e = Buffer.from(tarEntry({ name: 'big', data: 'x'.repeat(10) }));
    e.fill(0, 124, 136);
    e[124] = 0x80;
    e[135] = 10;
    fixChecksum(e);
    expect(read(Buffer.concat([e, Buffer.alloc(1024)])).data.get('big')).toBe('x'.repeat(10));

    const old = Buffer.from(tarEntry({ name: 'old', data: '' }));
    old.fill(0xff, 136, 148); // base-256 -1: one second before 1970
    fixChecksum(old);
    expect(read(Buffer.concat([old, Buffer.alloc(1024)])).entries[0].mtime).toBe(-1);
    const negSize = Buffer.from(old);
    negSize.fill(0xff, 124, 136);
    fixChecksum(negSize);
    expect(() => read(negSize)).toThrow('negative size');

    const link = Buffer.from(tarEntry({ name: 'l', type: 'symlink', linkname: 'a' }));
    link.write('00000000012\0', 124, 12, 'latin1'); // claims 10 bytes of data, which do not follow
    fixChecksum(link);
    const { entries } = read(Buffer.concat([link, tarArchive([{ name: 'next', data: 'n' }])]));
    expect(entries.map((x) => x.name)).toEqual(['l', 'next']);
  });
});

function fixChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i];
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
}
