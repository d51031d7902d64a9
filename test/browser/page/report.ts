// Errors cross page.evaluate as plain data: the SDK's classes exist only in
// the page, so the `instanceof` checks have to happen here.
import { ProblemError, SplitflareError } from '../../../client-sdk/browser.js';
import type { ErrorReport } from './api.js';

export function reportError(e: unknown): ErrorReport {
  const base: ErrorReport = {
    name: e instanceof Error ? e.name : typeof e,
    message: e instanceof Error ? e.message : String(e),
    isSplitflareError: e instanceof SplitflareError,
    isProblemError: e instanceof ProblemError,
  };
  if (e instanceof SplitflareError) base.code = e.code;
  if (e instanceof ProblemError) {
    base.slug = e.slug;
    base.status = e.status;
  }
  return base;
}
