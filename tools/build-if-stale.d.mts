export interface BuildTarget {
  name: string;
  inputs: string[];
  outputs: string[];
  script: string;
}
export const TARGETS: BuildTarget[];
export function inputFiles(base: string, inputs: string[]): string[];
export function fingerprint(base: string, inputs: string[]): string;
export function readStamps(base: string): Record<string, string>;
export function writeStamp(base: string, name: string, value: string): void;
export function staleness(base: string, target: BuildTarget, stamps?: Record<string, string>): { reason: string; fingerprint: string } | undefined;
export function main(argv: string[]): number;
