import type { Connection, Model, Schema } from 'mongoose';

/** Registers a schema on a connection once and returns the model (each platform instance has its own connection). */
export function modelOn<T>(conn: Connection, name: string, schema: Schema<T>): Model<T> {
  return (conn.models[name] as Model<T> | undefined) ?? conn.model<T>(name, schema);
}
