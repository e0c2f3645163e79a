// The test helper module: tests import everything from here (`../helper/index.js`), never from the files below.
//   linger.ts       names the handles still open when a finished test file does not exit
//   app.ts          namespaces on the shared stack, build (the one app builder), dropNamespace, stack, ROOT, type Tap
//   wait.ts         waitFor (the one polling helper), sleep
//   metrics.ts      metricValue (the one metrics reader: registry or Prometheus text)
//   near.ts         the app's near cache once it tracks, and a wait for an invalidation to reach it
//   data.ts         documents, events and messages as the write path makes them; cache entries; unpublished
//   kafka.ts        a producer on a test's topics, consumer-group catch-up, reading the events topic back
//   requests.ts     in-process write requests (post, createUser, createPost)
//   reliability.ts  roles as real processes, outages, HTTP with a deadline, seeded PRNG, FIGURE lines, cache vs store
//   tcp-proxy.ts    faults on the wire: a target that moves (a failover), a command or its answer lost
//   toxiproxy.ts    the stack's fault-injecting proxy: settings that route an app through it, toxics, reset
//   chaos.ts        the chaos tier: an app behind the proxies, load through one fault, the figures and their targets
export * from './app.js'
export * from './wait.js'
export * from './metrics.js'
export * from './near.js'
export * from './data.js'
export * from './kafka.js'
export * from './requests.js'
export * from './reliability.js'
export * from './tcp-proxy.js'
export * from './toxiproxy.js'
export * from './chaos.js'
