import { expect } from 'chai';
import { ACCOUNT_ID_SHAPE } from '@routeplex/platform';
import { PROVIDER_NAME_SHAPE } from '@routeplex/providers';
import { ACCOUNT_ID_PATTERN, PROVIDER_PATTERN } from '@routeplex/store';

// The store's rules are fixed by its first migration; packages that do not depend on the store keep copies.
describe('identifier rules across packages', () => {
  it('lets a credential name exactly the account ids the store accepts', () => {
    // Otherwise a token would authenticate an account whose every call then fails as a bad request.
    expect(ACCOUNT_ID_SHAPE.source).to.equal(ACCOUNT_ID_PATTERN);
  });

  it('lets the catalog name exactly the providers the store records', () => {
    // Otherwise a model's every answer would fail to be recorded after it was paid for.
    expect(PROVIDER_NAME_SHAPE.source).to.equal(PROVIDER_PATTERN);
  });
});
