import { expect } from 'chai';
import {
  CatalogError,
  ProviderError,
  codeForHttpStatus,
  countsAgainstHealth,
  isRetryableHttpStatus,
} from '../src/errors.js';

describe('provider errors', () => {
  it('maps HTTP statuses to gRPC code names', () => {
    const codes = [400, 401, 403, 404, 408, 429, 500, 502, 503, 529, 418].map(codeForHttpStatus);
    expect(codes).to.deep.equal([
      'INVALID_ARGUMENT',
      'UNAUTHENTICATED',
      'PERMISSION_DENIED',
      'NOT_FOUND',
      'DEADLINE_EXCEEDED',
      'RESOURCE_EXHAUSTED',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'UNAVAILABLE',
      'INTERNAL',
    ]);
    expect([429, 500, 503, 400, 401, 404].map(isRetryableHttpStatus)).to.deep.equal([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it('withAttempts keeps the fields and says how many attempts were made', () => {
    const error = new ProviderError({
      code: 'UNAVAILABLE',
      message: 'down',
      retryable: true,
      httpStatus: 503,
      model: 'm',
    });
    const after = error.withAttempts(3);
    expect(after).to.include({ code: 'UNAVAILABLE', httpStatus: 503, attempts: 3, model: 'm', retryable: true });
    expect(after.message).to.equal('down (gave up after 3 attempts)');
    expect(error.withAttempts(1)).to.equal(error);
  });

  it('counts upstream failures against health but not cancellations or bad requests', () => {
    const of = (code: ProviderError['code']) => new ProviderError({ code, message: '', retryable: false });
    expect(countsAgainstHealth(of('UNAVAILABLE'))).to.equal(true);
    expect(countsAgainstHealth(of('DEADLINE_EXCEEDED'))).to.equal(true);
    expect(countsAgainstHealth(of('CANCELLED'))).to.equal(false);
    expect(countsAgainstHealth(of('INVALID_ARGUMENT'))).to.equal(false);
  });

  it('CatalogError lists each problem with its place', () => {
    const error = new CatalogError('x.json', [
      { index: 2, id: 'a', field: 'pricing.inputPerMTok', message: 'must be >= 0' },
      { index: 3, field: 'id', message: 'is required' },
      { field: 'models', message: 'must list at least one model' },
    ]);
    expect(error.message).to.equal(
      'model catalog x.json is invalid; fix these 3 problem(s):\n' +
        '  - entry 2 (id "a"), field "pricing.inputPerMTok": must be >= 0\n' +
        '  - entry 3, field "id": is required\n' +
        '  - catalog field "models": must list at least one model',
    );
  });
});
