import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Patient data never goes into a log line: log ids, counts and outcomes,
 * never names, identifiers, clinical text or request bodies. The redact list is a safety net.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'hoichan' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'refreshToken', '*.refreshToken', 'authorization', '*.authorization', 'req.headers.authorization', 'body', '*.body'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
