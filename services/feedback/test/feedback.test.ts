import { expect } from 'chai';
import { DomainError } from '@routeplex/platform';
import { ratingDelta } from '@routeplex/scoring';
import { ratingComputation, ratingRejection, validateFeedback } from '../src/feedback.js';
import { completion, scoring } from '@routeplex/testkit';

const DAY = 24 * 3600 * 1000;

describe('feedback rules', () => {
  describe('validateFeedback', () => {
    it('maps score and is_helpful to the learning core’s quality', () => {
      expect(validateFeedback({ requestId: 'req_abcdefgh', score: 1 }).quality).to.equal(0);
      expect(validateFeedback({ requestId: 'req_abcdefgh', score: 5 }).quality).to.equal(1);
      expect(validateFeedback({ requestId: 'req_abcdefgh', isHelpful: false })).to.deep.equal({
        requestId: 'req_abcdefgh',
        score: null,
        isHelpful: false,
        quality: 0.15,
      });
      expect(validateFeedback({ requestId: 'req_abcdefgh', score: 3, isHelpful: true }).quality).to.be.closeTo(
        0.8 * 0.5 + 0.2,
        1e-12,
      );
    });

    it('refuses a fractional score (a JSON client can send one through the facade)', () => {
      expect(() => validateFeedback({ requestId: 'req_abcdefgh', score: 2.5 })).to.throw(
        DomainError,
        /^score must be an integer/,
      );
    });
  });

  describe('ratingRejection', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    it('accepts a completion inside the window and refuses one just outside it', () => {
      expect(ratingRejection(completion('a', { createdAt: new Date(now - 30 * DAY + 1000) }), now, 30)).to.equal(
        undefined,
      );
      expect(ratingRejection(completion('a', { createdAt: new Date(now - 30 * DAY - 1000) }), now, 30)?.code).to.equal(
        'FAILED_PRECONDITION',
      );
    });
    it('refuses a selection', () => {
      expect(
        ratingRejection(
          completion('a', { kind: 'selection', heuristicQuality: null, createdAt: new Date(now) }),
          now,
          30,
        )?.code,
      ).to.equal('FAILED_PRECONDITION');
    });
  });

  describe('ratingComputation', () => {
    it('moves the enhancement counters only for auto-routed requests, where the router counted them', () => {
      const named = completion('a', { autoRouted: false, heuristicQuality: 0.3 });
      const input = validateFeedback({ requestId: named.id, score: 5 });
      expect(ratingComputation(named, null, input, scoring).counterDelta).to.equal(undefined);
      const auto = completion('a', { autoRouted: true, enhanced: true, heuristicQuality: 0.3 });
      const delta = ratingComputation(auto, null, input, scoring).counterDelta!;
      expect(delta.enhancedQ).to.be.closeTo(0.7, 1e-12);
      expect(delta.enhancedQ2).to.be.closeTo(1 - 0.09, 1e-12);
      expect(delta.enhancedN ?? 0).to.equal(0);
    });

    it('replaces the previous rating, not the heuristic, when there is one', () => {
      const entry = completion('a', { heuristicQuality: 0.3 });
      const input = validateFeedback({ requestId: entry.id, score: 1 });
      const previous = {
        accountId: 'a',
        requestId: entry.id,
        score: 5,
        isHelpful: null,
        quality: 1,
        createdAt: new Date(),
        updatedAt: new Date(),
      };
      const computed = ratingComputation(entry, previous, input, scoring);
      const expected = ratingDelta(
        {
          request: {
            heuristicQuality: 0.3,
            latencyMs: entry.latencyMs,
            costUsd: entry.costUsd,
            atMs: entry.createdAt.getTime(),
          },
          previousRatingQuality: 1,
          newRatingQuality: 0,
        },
        scoring,
      );
      expect(computed.cellDelta).to.deep.equal(expected);
      expect(computed.cellDelta.n).to.equal(0);
      expect(computed.counterDelta?.plainQ).to.be.closeTo(-1, 1e-12);
    });
  });
});
