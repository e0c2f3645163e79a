// The level each kafkajs log line is written at: a broker answer kafkajs retries is debug (a first start, while the
// broker loads, printed them as errors), a retried send's retriable failure a warning, every real failure an error.
import t from 'tap'
import kafkajs from 'kafkajs'
import { kafkaLogLevel } from '../../src/bus/kafka.js'

const { ERROR, WARN, INFO } = kafkajs.logLevel

t.test('what a first start on a loading broker logged at error is debug now', async (t) => {
  for (const error of ['The group coordinator is not available', "The coordinator is loading and hence can't process requests for this group",
    'There is no leader for this topic-partition as we are in the middle of a leadership election', 'This is not the correct coordinator for this group']) {
    t.equal(kafkaLogLevel(ERROR, 'Response GroupCoordinator(key: 10, version: 2)', { error }), 'debug', error)
  }
  t.equal(kafkaLogLevel(ERROR, 'Response CreateTopics(key: 19, version: 3)', { error: 'Topic creation errors' }), 'debug', 'a topic created first elsewhere')
  t.equal(kafkaLogLevel(ERROR, 'Failed to send messages: There is no leader for this topic-partition as we are in the middle of a leadership election', {}), 'warn')
})

t.test('real failures stay errors', async (t) => {
  t.equal(kafkaLogLevel(ERROR, 'Response Produce(key: 0, version: 7)', { error: 'The request attempted to perform an operation on an invalid topic' }), 'error', 'a refusal no retry fixes')
  t.equal(kafkaLogLevel(ERROR, 'Response Metadata(key: 3, version: 6)', { error: 'Topic creation errors' }), 'error', 'the aggregate only on CreateTopics')
  t.equal(kafkaLogLevel(ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:1', {}), 'error')
  t.equal(kafkaLogLevel(ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available', {}), 'error', 'retries run out')
  t.equal(kafkaLogLevel(ERROR, 'Failed to send messages: Connection error', {}), 'error')
  t.equal(kafkaLogLevel(WARN, 'anything', {}), 'warn')
  t.equal(kafkaLogLevel(WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees', {}), 'debug', 'a choice made on purpose')
  t.equal(kafkaLogLevel(INFO, 'anything', {}), 'debug')
})
