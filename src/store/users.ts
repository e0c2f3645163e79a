// User reads and writes against MongoDB.
import { MongoServerError, type Db } from 'mongodb'
import { UsernameTaken } from '../errors.js'
import type { User } from '../schemas.js'
import { nextId, toUser, users } from './collections.js'

const DUPLICATE_KEY = 11000

export async function createUser (db: Db, username: string): Promise<User> {
  const taken = await users(db).findOne({ username }, { projection: { _id: 1 } })
  if (taken !== null) throw new UsernameTaken(username)
  const doc = { _id: await nextId(db, 'users'), username, created_at: new Date(), version: 1 }
  try {
    await users(db).insertOne(doc)
  } catch (err) {
    // The unique index decides races the findOne above cannot see (two requests for one name at once).
    if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) throw new UsernameTaken(username)
    throw err
  }
  return toUser(doc)
}

export async function findUser (db: Db, id: number): Promise<User | null> {
  const doc = await users(db).findOne({ _id: id })
  return doc === null ? null : toUser(doc)
}

export async function userExists (db: Db, id: number): Promise<boolean> {
  return (await users(db).countDocuments({ _id: id }, { limit: 1 })) > 0
}
