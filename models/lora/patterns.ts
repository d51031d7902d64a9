// How callers name the tensors to adapt or train: a regular expression over
// initializer names, or a list whose entries are exact names or expressions.

export type NamePattern = RegExp | readonly (string | RegExp)[];

/** A copy without the `g`/`y` flags, whose `test()` would otherwise keep state between calls. */
function stateless(re: RegExp): RegExp {
  return new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
}

export type PatternPart = { kind: 'exact'; name: string } | { kind: 'regexp'; re: RegExp };

export function patternParts(pattern: NamePattern): PatternPart[] {
  const list = pattern instanceof RegExp ? [pattern] : pattern;
  return list.map((p) =>
    typeof p === 'string' ? { kind: 'exact', name: p } : { kind: 'regexp', re: stateless(p) },
  );
}

export function partMatches(part: PatternPart, name: string): boolean {
  return part.kind === 'exact' ? part.name === name : part.re.test(name);
}

export function describePart(part: PatternPart): string {
  return part.kind === 'exact' ? JSON.stringify(part.name) : String(part.re);
}

export function isEmptyPattern(pattern: NamePattern | undefined): boolean {
  return pattern === undefined || (!(pattern instanceof RegExp) && pattern.length === 0);
}
