import { describe, expect, it } from 'vitest';
import { attachmentFileName } from '../../src/render/filename.ts';

describe('attachmentFileName', () => {
  it('turns the invoice number into a safe file name', () => {
    expect(attachmentFileName({ id: '1', number: 'FV/2026/0001' })).toBe('FV-2026-0001.pdf');
    expect(attachmentFileName({ id: '1', number: 'INV 2026\\07:*?"<>|' })).toBe('INV-2026-07.pdf');
    expect(attachmentFileName({ id: '1', number: '../../etc/passwd' })).toBe('etc-passwd.pdf');
  });

  it('transliterates Polish letters to ASCII', () => {
    expect(attachmentFileName({ id: '1', number: 'Faktura/ŻÓŁĆ/ąęśźń/1' })).toBe('Faktura-ZOLC-aeszn-1.pdf');
  });

  it('names a draft without a number after its id', () => {
    expect(attachmentFileName({ id: '42', number: null })).toBe('Faktura-projekt-42.pdf');
    expect(attachmentFileName({ id: '42', number: '/' })).toBe('Faktura-projekt-42.pdf');
  });

  it('keeps names short', () => {
    expect(attachmentFileName({ id: '1', number: 'X'.repeat(500) }).length).toBeLessThanOrEqual(124);
  });
});
