// IDENTITY_MODE=local: the Lambda function's own logic, run in-process (same validator, same verdicts, no invoke).
import { createValidator, KeySourceUnavailableError, type ValidatorSettings } from './validator.js'
import { VerifierUnavailableError, type Verifier } from './verifier.js'

export function createLocalVerifier (settings: ValidatorSettings): Verifier {
  const validate = createValidator(settings)
  return {
    kind: 'local',
    async verify (token) {
      try {
        return await validate(token)
      } catch (err) {
        if (err instanceof KeySourceUnavailableError) throw new VerifierUnavailableError(err.message)
        /* c8 ignore next 2 -- the validator throws nothing else; a bug here must surface as a 500, not pass */
        throw err
      }
    },
    async close () {}
  }
}
