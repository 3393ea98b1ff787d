/** The part of mailauth (4.x, no bundled types) the DKIM test uses: its DKIM verifier. */
declare module 'mailauth/lib/dkim/verify.js' {
  export interface DkimResult {
    signingDomain: string;
    selector: string;
    status: { result: 'pass' | 'fail' | 'neutral' | 'none' | 'policy' | 'temperror' | 'permerror'; comment?: string };
  }
  export function dkimVerify(input: Buffer, options?: { resolver?: (name: string, rrtype: string) => Promise<string[][]> }): Promise<{ results: DkimResult[] }>;
}
