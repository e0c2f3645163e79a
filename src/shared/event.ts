// The event contract on Kafka: one message per change, key = "<type>:<id>" so one entity's events stay in order on
// one partition, value = the entity's full state and version, which makes applying idempotent and order-tolerant.
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { Post, User } from './schemas.js'

export const UserEvent = Type.Object({
  type: Type.Literal('user'),
  id: Type.Integer({ minimum: 1 }),
  version: Type.Integer({ minimum: 1 }),
  data: User,
  occurred_at: Type.String()
})
export const PostEvent = Type.Object({
  type: Type.Literal('post'),
  id: Type.Integer({ minimum: 1 }),
  version: Type.Integer({ minimum: 1 }),
  data: Post,
  occurred_at: Type.String()
})
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
