import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs. Patient data never goes into a log line: log ids, counts and outcomes,
 * never names, identifiers, clinical text or request bodies. The redact list is a safety net.
 */
/** `toStderr` for command-line tools whose stdout is their result. */
export function createLogger(level: string, toStderr = false): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'hoichan' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'refreshToken',
        '*.refreshToken',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        'body',
        '*.body',
      ],
      censor: '[redacted]',
    },
  };
  return toStderr ? pino(options, pino.destination(2)) : pino(options);
}

export type { Logger };
