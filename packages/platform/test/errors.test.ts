import { expect } from 'chai';
import { status } from '@grpc/grpc-js';
import { DomainError, invalidArgument, toPublicStatus } from '../src/errors.js';

describe('toPublicStatus', () => {
  it('keeps the code and message of typed errors', () => {
    const s = toPublicStatus(invalidArgument('messages: must not be empty'));
    expect(s).to.deep.include({
      code: status.INVALID_ARGUMENT,
      message: 'messages: must not be empty',
      unexpected: false,
    });
  });

  it('honours a gRPC code name on errors from other packages', () => {
    const providerError = Object.assign(new Error('upstream rate limit'), { code: 'RESOURCE_EXHAUSTED' });
    expect(toPublicStatus(providerError).code).to.equal(status.RESOURCE_EXHAUSTED);
  });

  it('hides the message of unexpected errors', () => {
    const s = toPublicStatus(new TypeError('cannot read x of undefined at secret place'));
    expect(s).to.deep.include({ code: status.INTERNAL, message: 'internal error', unexpected: true });
    expect(toPublicStatus(Object.assign(new Error('pg'), { code: '23505' })).code).to.equal(status.INTERNAL);
  });

  it('keeps the cause for logs on the error itself', () => {
    const cause = new Error('db down');
    const err = new DomainError('UNAVAILABLE', 'store unavailable, retry', { cause });
    expect(err.cause).to.equal(cause);
    expect(toPublicStatus(err).message).to.equal('store unavailable, retry');
  });
});
