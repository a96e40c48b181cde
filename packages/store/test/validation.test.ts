import { expect } from 'chai';
import { StoreError } from '../src/index.js';
import { checkSignals, signalsJsonbBytes } from '../src/validation.js';

describe('validation', () => {
  describe('signalsJsonbBytes', () => {
    it('counts the jsonb text, with a space after every colon and comma', () => {
      expect(signalsJsonbBytes({})).to.equal('{}'.length);
      expect(signalsJsonbBytes({ a: 1 })).to.equal('{"a": 1}'.length);
      expect(signalsJsonbBytes({ length: 0.8, refusal: -2 })).to.equal('{"length": 0.8, "refusal": -2}'.length);
    });

    it('counts numbers written without exponents, as numeric prints them', () => {
      expect(signalsJsonbBytes({ a: 1e-7 })).to.equal('{"a": 0.0000001}'.length);
      expect(signalsJsonbBytes({ a: -1.5e-7 })).to.equal('{"a": -0.00000015}'.length);
      expect(signalsJsonbBytes({ a: 1e21 })).to.equal(`{"a": 1${'0'.repeat(21)}}`.length);
      expect(signalsJsonbBytes({ a: 1.25e22 })).to.equal(`{"a": 125${'0'.repeat(20)}}`.length);
      expect(signalsJsonbBytes({ a: -0 })).to.equal('{"a": 0}'.length);
    });
  });

  describe('checkSignals', () => {
    it('refuses signals whose jsonb text exceeds the limit though their JSON is far shorter', () => {
      const signals = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`s${i}`, 1e-7]));
      expect(JSON.stringify(signals).length).to.be.lessThan(4096);
      expect(() => checkSignals(signals))
        .to.throw(StoreError)
        .with.property('code', 'INVALID_ARGUMENT');
    });
  });
});
