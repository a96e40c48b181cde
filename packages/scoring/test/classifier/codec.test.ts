import { expect } from 'chai';
import fc from 'fast-check';
import { base64Decode, base64Encode } from '../../src/classifier/codec.js';

describe('base64 codec', () => {
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(Array.from(base64Decode(base64Encode(bytes)))).to.deep.equal(Array.from(bytes));
      }),
    );
  });

  it('matches the standard alphabet and padding', () => {
    expect(base64Encode(new TextEncoder().encode('route'))).to.equal('cm91dGU=');
  });

  it('rejects characters outside the alphabet with a typed error', () => {
    expect(() => base64Decode('ab$d')).to.throw(/Invalid base64 character at offset 2/);
  });
});
