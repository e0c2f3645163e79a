// The event contract on Kafka: one message per change, key = "<type>:<id>" so one entity's events stay in order on
// one partition, value = the entity's full state and version, which makes applying idempotent and order-tolerant.
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { Post, User } from './schemas.js'

/** One entity type's event: its type, id and version, and the entity's full state. */
function entityEvent<T extends string, D extends TSchema> (type: T, data: D) {
  return Type.Object({
    type: Type.Literal(type),
    id: Type.Integer({ minimum: 1 }),
    version: Type.Integer({ minimum: 1 }),
    data,
    occurred_at: Type.String()
  })
}

const UserEvent = entityEvent('user', User)
const PostEvent = entityEvent('post', Post)
export const EntityEvent = Type.Union([UserEvent, PostEvent])
export type EntityEvent = Static<typeof EntityEvent>
export type EntityType = EntityEvent['type']

export function eventKey (type: EntityType, id: number): string {
  return `${type}:${id}`
}

export class PoisonEvent extends Error {}

/** Parses and checks a message value; a value that is not a valid event throws PoisonEvent with the reason. */
export function parseEvent (value: Buffer | null): EntityEvent {
  if (value === null) throw new PoisonEvent('message has no value')
  let json: unknown
  try {
    json = JSON.parse(value.toString('utf8'))
  } catch {
    throw new PoisonEvent('message value is not JSON')
  }
  if (!Value.Check(EntityEvent, json)) {
    const first = Value.Errors(EntityEvent, json).First()
    throw new PoisonEvent(`not a valid event: ${first === undefined ? 'shape' : `${first.path} ${first.message}`}`)
  }
  if (json.type === 'user' ? json.data.user_id !== json.id : json.data.post_id !== json.id) {
    throw new PoisonEvent('event id does not match its data')
  }
  return json
}
