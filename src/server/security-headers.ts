import type { NextFunction, Request, Response } from 'express';

/**
 * The page's policy (GET /): its script and style are files of this origin (/page.js, /page.css: no inline script or
 * style, no style attribute), it talks only to this origin's API, and no other site may frame it.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every other answer (JSON, metrics) is no document to run anything in: nothing loads, nothing frames it. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * Set on every answer the app gives, before any other middleware, so refusals (a bad Host, a body too large, a 404)
 * carry them too: no MIME sniffing (a JSON answer echoing input is never run as HTML or script), no framing
 * (X-Frame-Options for browsers without frame-ancestors), and the API's policy; the page's routes set PAGE_CSP.
 */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', API_CSP);
  next();
}
