/**
 * A small type-level reader of the JSON Schema subset memtrace uses, so that
 * each record is defined once (as a schema) and its TypeScript type follows.
 *
 * Supported: type (string | integer | number | boolean | null, or a list of
 * them), enum, const, properties + required, items, additionalProperties.
 */

type Prim<T> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : never

type Props<S> = S extends { properties: infer P }
  ? S extends { required: readonly (infer R)[] }
    ? {
        -readonly [K in keyof P as K extends R ? K : never]: FromSchema<P[K]>
      } & {
        -readonly [K in keyof P as K extends R ? never : K]?: FromSchema<P[K]>
      }
    : { -readonly [K in keyof P]?: FromSchema<P[K]> }
  : unknown

type Extra<S> = S extends { additionalProperties: infer A }
  ? A extends false
    ? unknown
    : A extends true
      ? Record<string, unknown>
      : Record<string, FromSchema<A>>
  : unknown

type Flatten<T> = T extends object ? { [K in keyof T]: T[K] } : T

/** The TypeScript type of a value that validates against schema `S`. */
export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: 'object' }
      ? Flatten<Props<S> & Extra<S>>
      : S extends { type: 'array'; items: infer I }
        ? FromSchema<I>[]
        : S extends { type: readonly (infer T)[] }
          ? Prim<T>
          : S extends { type: infer T }
            ? Prim<T>
            : unknown
