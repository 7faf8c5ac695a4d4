/** The provider CESAR_MARKET_PROVIDER names, built from the market settings. */
import type { MarketDataProvider } from '../bars.js';
import type { MarketSettings } from '../settings.js';
import { createAlphaVantageProvider } from './alphavantage.js';
import { createCsvDirProvider } from './csvdir.js';
import { createStooqProvider } from './stooq.js';
import { createYahooProvider } from './yahoo.js';

export function createProvider(settings: MarketSettings): MarketDataProvider {
  switch (settings.provider) {
    case 'stooq':
      return createStooqProvider(settings);
    case 'alphavantage':
      return createAlphaVantageProvider(settings);
    case 'yahoo':
      return createYahooProvider(settings);
    case 'csvdir':
      return createCsvDirProvider(settings);
  }
}
