import { expect } from 'chai';
import { codeNameFromNumber, errorBody, GatewayError, httpStatusFromCode, streamErrorEvent } from '../src/errors.js';

describe('errors', () => {
  it('maps gRPC codes to HTTP statuses as grpc-gateway does', () => {
    expect(httpStatusFromCode('FAILED_PRECONDITION')).to.equal(400);
    expect(httpStatusFromCode('CANCELLED')).to.equal(499);
    expect(httpStatusFromCode('UNAUTHENTICATED')).to.equal(401);
    expect(httpStatusFromCode('RESOURCE_EXHAUSTED')).to.equal(429);
  });

  it('names numeric codes, and calls an unknown number UNKNOWN', () => {
    expect(codeNameFromNumber(3)).to.equal('INVALID_ARGUMENT');
    expect(codeNameFromNumber(16)).to.equal('UNAUTHENTICATED');
    expect(codeNameFromNumber(99)).to.equal('UNKNOWN');
  });

  it('renders a google.rpc.Status body with an OpenAI-style error member', () => {
    expect(JSON.parse(errorBody('UNAUTHENTICATED', 'send a key'))).to.deep.equal({
      code: 16,
      message: 'send a key',
      details: [],
      error: { message: 'send a key', type: 'authentication_error', code: 'UNAUTHENTICATED' },
    });
    expect(JSON.parse(errorBody('DATA_LOSS', 'x')).error.type).to.equal('api_error');
  });

  it('renders a stream error as one SSE data event', () => {
    const event = streamErrorEvent('RESOURCE_EXHAUSTED', 'slow down');
    expect(event.startsWith('data: ')).to.equal(true);
    expect(event.endsWith('\n\n')).to.equal(true);
    expect(JSON.parse(event.slice(6)).error).to.deep.equal({
      message: 'slow down',
      type: 'rate_limit_error',
      code: 'RESOURCE_EXHAUSTED',
      status: 8,
    });
  });

  it('takes its HTTP status from the table unless a transport-level status is given', () => {
    expect(new GatewayError('NOT_FOUND', 'x').httpStatus).to.equal(404);
    const e = new GatewayError('UNIMPLEMENTED', 'x', { httpStatus: 405, headers: { allow: 'GET' } });
    expect([e.code, e.httpStatus, e.headers]).to.deep.equal(['UNIMPLEMENTED', 405, { allow: 'GET' }]);
  });
});
