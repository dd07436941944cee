"""The exchange core without HTTP: matching (price-time, taker at maker price, mint/merge), fees, order
types, Polymarket's validation messages, reservations, settlement lifecycle, heartbeats, background
liquidity, tick changes and market resolution. A ManualClock drives every timer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from localexchange import errors as E
from localexchange.errors import ExchangeError
from localexchange.intake import parse_post_order
from tests.test_sim_exchange_support import (
    ADDRS,
    CID,
    KEYS,
    NO,
    START,
    YES,
    make_exchange,
    market,
    market_events,
    order_json,
    place,
    post_body,
    user_events,
)


def _setup(*markets, **config):
    ex, clock, events = make_exchange(*markets, **config)
    creds = [ex.create_api_key(a, 0) for a in ADDRS]
    return ex, clock, events, creds


def cash(ex, i):
    return ex.accounts[ADDRS[i].lower()].cash


def shares(ex, i, token):
    return ex.accounts[ADDRS[i].lower()].positions.get(token, 0)


def test_price_time_priority_and_taker_gets_maker_prices():
    ex, _, _, c = _setup()
    a = place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")["orderID"]
    b = place(ex, c[1], KEYS[1], YES, "BUY", "0.50", "10")["orderID"]
    best = place(ex, c[2], KEYS[2], YES, "BUY", "0.51", "10")["orderID"]
    ex.deposit(ADDRS[3], 100, YES)
    resp = place(ex, c[3], KEYS[3], YES, "SELL", "0.40", "25")
    assert resp["status"] == "matched"
    assert resp["makingAmount"] == "25" and resp["takingAmount"] == str(Decimal("5.1") + Decimal("7.5"))
    trades = [ex.trades[t] for t in resp["tradeIDs"]]
    # one trade per price level reached, best price first, makers in arrival order within a level
    assert [(t.price, t.size, t.bucket_index) for t in trades] == [
        (5100, 10_000_000, 0),
        (5000, 15_000_000, 1),
    ]
    assert [f.order.id for f in trades[0].makers] == [best]
    assert [(f.order.id, f.qty) for f in trades[1].makers] == [(a, 10_000_000), (b, 5_000_000)]
    assert ex.orders[a].status == "MATCHED" and ex.orders[b].status == "LIVE"
    assert ex.orders[b].remaining == 5_000_000
    # the seller asked 0.40 but sold at the makers' 0.51 / 0.50
    assert cash(ex, 3) == 10_000_000_000 + 5_100_000 + 7_500_000


def test_mint_buy_yes_against_buy_no():
    ex, _, _, c = _setup()
    place(ex, c[0], KEYS[0], YES, "BUY", "0.60", "10")
    resp = place(ex, c[1], KEYS[1], NO, "BUY", "0.45", "10")  # a NO bid at 0.45 is a YES ask at 0.55
    trade = ex.trades[resp["tradeIDs"][0]]
    assert trade.price == 4000  # NO at 1 - 0.60: the maker's price
    assert shares(ex, 0, YES) == 10_000_000 and shares(ex, 1, NO) == 10_000_000
    assert cash(ex, 0) == 10_000_000_000 - 6_000_000
    assert cash(ex, 1) == 10_000_000_000 - 4_000_000  # together exactly $1 per minted pair


def test_merge_sell_yes_against_sell_no():
    ex, _, _, c = _setup()
    ex.deposit(ADDRS[0], 10, YES)
    ex.deposit(ADDRS[1], 10, NO)
    place(ex, c[0], KEYS[0], YES, "SELL", "0.40", "10")
    resp = place(ex, c[1], KEYS[1], NO, "SELL", "0.55", "10")  # SELL NO 0.55 == YES bid 0.45 >= 0.40
    assert ex.trades[resp["tradeIDs"][0]].price == 6000  # NO sold at 1 - 0.40
    assert shares(ex, 0, YES) == 0 and shares(ex, 1, NO) == 0
    assert cash(ex, 0) - 10_000_000_000 == 4_000_000
    assert cash(ex, 1) - 10_000_000_000 == 6_000_000


def test_taker_fee_from_the_market_schedule_makers_pay_nothing():
    ex, _, events, c = _setup(market(fee_rate="0.04"))
    place(ex, c[0], KEYS[0], YES, "BUY", "0.30", "100")
    ex.deposit(ADDRS[1], 100, YES)
    resp = place(ex, c[1], KEYS[1], YES, "SELL", "0.30", "100")
    trade = ex.trades[resp["tradeIDs"][0]]
    # 100 x 0.04 x 0.3 x 0.7 = 0.84 USDC, taker only
    assert trade.fee == 840_000 and trade.fee_rate_bps == "400"
    assert cash(ex, 1) == 10_000_000_000 + 30_000_000 - 840_000
    assert cash(ex, 0) == 10_000_000_000 - 30_000_000
    maker_view = user_events(events, ADDRS[0], "trade")[0]
    assert maker_view["trader_side"] == "MAKER" and maker_view["maker_orders"][0]["fee_rate_bps"] == "0"
    assert user_events(events, ADDRS[1], "trade")[0]["fee_rate_bps"] == "400"


def test_fee_rounds_to_five_decimals():
    ex, _, _, c = _setup(market(fee_rate="0.07"))
    place(ex, c[0], KEYS[0], YES, "BUY", "0.33", "7.77")
    ex.deposit(ADDRS[1], 10, YES)
    resp = place(ex, c[1], KEYS[1], YES, "SELL", "0.33", "7.77")
    # 7.77 x 0.07 x 0.33 x 0.67 = 0.120255... -> 0.12026
    assert ex.trades[resp["tradeIDs"][0]].fee == 120_260


def test_fok_all_or_nothing():
    ex, _, events, c = _setup()
    ex.set_background(CID, [], [("0.52", "5"), ("0.53", "5")])
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.53", "11", order_type="FOK")
    assert err.value.status == 400 and err.value.body == {"error": E.FOK_NOT_FILLED}
    assert not ex.trades and cash(ex, 0) == 10_000_000_000
    kill = user_events(events, ADDRS[0], "order")[-1]
    assert kill["type"] == "CANCELLATION" and kill["status"] == "CANCELED_" + E.FOK_NOT_FILLED
    resp = place(ex, c[0], KEYS[0], YES, "BUY", "0.53", "10", order_type="FOK")
    assert resp["status"] == "matched" and resp["takingAmount"] == "10" and resp["makingAmount"] == "5.25"


def test_fak_fills_what_is_there_and_kills_the_rest():
    ex, _, _, c = _setup()
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10", order_type="FAK")
    assert err.value.body == {"error": E.FAK_NOT_FILLED}
    ex.set_background(CID, [], [("0.50", "4")])
    resp = place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10", order_type="FAK")
    assert resp["takingAmount"] == "4"
    assert ex.orders[resp["orderID"]].status == "CANCELED"
    assert not ex.open_orders(c[0])


def test_market_buy_amounts_off_tick_are_accepted():
    """The SDK's market BUY: makerAmount = dollars, takerAmount = dollars / price rounded down, so the
    implied price is a hair above the tick; FOK/FAK are not held to the tick grid."""
    ex, _, _, c = _setup()
    ex.set_background(CID, [], [("0.33", "100")])
    resp = place(
        ex,
        c[0],
        KEYS[0],
        YES,
        "BUY",
        "0.33",
        "1",
        order_type="FAK",
        maker_amount=5_000_000,
        taker_amount=15_151_500,
    )
    assert resp["takingAmount"] == "15.1515"
    assert resp["makingAmount"] == "4.999995"  # 15.1515 shares at the maker's 0.33


def test_post_only():
    ex, _, _, c = _setup()
    ex.set_background(CID, [("0.48", "10")], [("0.52", "10")])
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.52", "10", post_only=True)
    assert err.value.body == {"error": E.POST_ONLY_CROSSES}
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.52", "10", order_type="FOK", post_only=True)
    assert err.value.body == {"error": E.POST_ONLY_TYPE}
    assert place(ex, c[0], KEYS[0], YES, "BUY", "0.51", "10", post_only=True)["status"] == "live"
    # NO bid at 0.49 is a YES ask at 0.51: crosses our own-price bid... from the other token
    with pytest.raises(ExchangeError):
        place(ex, c[1], KEYS[1], NO, "BUY", "0.49", "10", post_only=True)


def test_validation_messages():
    ex, _, _, c = _setup()
    body = post_body(order_json(KEYS[0], YES, "BUY", "0.505", "10"), c[0].key)
    new = parse_post_order(body, c[0], ex)
    with pytest.raises(ExchangeError) as err:
        ex.place(c[0], new)
    assert (
        err.value.message == f"order {new.id} is invalid. Price (0.505) breaks minimum tick size rule: 0.01"
    )
    body = post_body(order_json(KEYS[0], YES, "BUY", "0.50", "4.99"), c[0].key)
    new = parse_post_order(body, c[0], ex)
    with pytest.raises(ExchangeError) as err:
        ex.place(c[0], new)
    assert err.value.message == f"order {new.id} is invalid. Size (4.99) lower than the minimum: 5"
    body = post_body(order_json(KEYS[0], YES, "BUY", "0.50", "10"), c[0].key)
    new = parse_post_order(body, c[0], ex)
    ex.place(c[0], new)
    with pytest.raises(ExchangeError) as err:
        ex.place(c[0], new)
    assert err.value.message == f"order {new.id} is invalid. Duplicated."
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.99", "20000")
    assert err.value.message == (
        "not enough balance / allowance: the balance is not enough -> balance: 9995000000, order amount: 19800000000"
    )
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "SELL", "0.50", "10")
    assert err.value.message.startswith("not enough balance / allowance")
    for bad in (0, START // 1000 + 60):
        with pytest.raises(ExchangeError) as err:
            place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10", order_type="GTD", expiration=bad)
        assert err.value.message == E.INVALID_EXPIRATION
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10", expiration=START // 1000 + 600)
    assert err.value.message == E.INVALID_EXPIRATION  # GTC carries no expiration
    ex.set_background(CID, [], [("0.10", "100")])
    with pytest.raises(ExchangeError) as err:
        place(ex, c[1], KEYS[1], YES, "BUY", "0.10", "5")
    assert err.value.message == "invalid amount for a marketable BUY order ($0.50), min size: 1"


def test_reservations_hold_funds_for_resting_orders():
    ex, _, _, c = _setup(paper_balance=Decimal("10"))
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "16")["orderID"]
    acct = ex.accounts[ADDRS[0].lower()]
    assert acct.reserved_cash == 8_000_000 and acct.available_cash() == 2_000_000
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "5")
    assert "balance: 2000000, order amount: 2500000" in err.value.message
    ex.cancel(c[0], [oid])
    assert acct.reserved_cash == 0
    assert place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "5")["status"] == "live"


def test_partial_fill_of_a_resting_order_updates_its_reservation_and_events():
    ex, _, events, c = _setup()
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")["orderID"]
    ex.deposit(ADDRS[1], 10, YES)
    place(ex, c[1], KEYS[1], YES, "SELL", "0.50", "6")
    acct = ex.accounts[ADDRS[0].lower()]
    assert acct.reserved_cash == 2_000_000
    orders = user_events(events, ADDRS[0], "order")
    assert [o["type"] for o in orders] == ["PLACEMENT", "UPDATE"]
    assert orders[1]["size_matched"] == "6" and orders[1]["status"] == "LIVE"
    assert orders[1]["associate_trades"] == ex.orders[oid].associate_trades


def test_trade_lifecycle_matched_mined_confirmed():
    ex, clock, events, c = _setup(mined_delay_ms=1000, confirmed_delay_ms=2000)
    place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")
    ex.deposit(ADDRS[1], 10, YES)
    resp = place(ex, c[1], KEYS[1], YES, "SELL", "0.50", "10")
    tid = resp["tradeIDs"][0]
    assert resp["transactionsHashes"][0].startswith("0x") and len(resp["transactionsHashes"][0]) == 66
    ex.advance_to(START + 999)
    assert ex.trades[tid].status == "MATCHED"
    ex.advance_to(START + 1000)
    assert ex.trades[tid].status == "MINED"
    ex.advance_to(START + 3000)
    assert ex.trades[tid].status == "CONFIRMED"
    for i in (0, 1):
        statuses = [t["status"] for t in user_events(events, ADDRS[i], "trade")]
        assert statuses == ["MATCHED", "MINED", "CONFIRMED"]
    assert {t["trader_side"] for t in user_events(events, ADDRS[0], "trade")} == {"MAKER"}
    assert {t["trader_side"] for t in user_events(events, ADDRS[1], "trade")} == {"TAKER"}


def test_failed_trade_reverses_balances():
    ex, _, events, c = _setup(market(fee_rate="0.04"))
    place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")
    ex.deposit(ADDRS[1], 10, YES)
    before = (cash(ex, 0), cash(ex, 1), shares(ex, 0, YES), shares(ex, 1, YES))
    ex.fail_next_trades(1)
    tid = place(ex, c[1], KEYS[1], YES, "SELL", "0.50", "10")["tradeIDs"][0]
    assert shares(ex, 0, YES) == 10_000_000
    ex.advance_to(START + 60_000)
    assert ex.trades[tid].status == "FAILED"
    assert [t["status"] for t in user_events(events, ADDRS[1], "trade")] == ["MATCHED", "RETRYING", "FAILED"]
    # cash, shares and the taker's fee all go back to where they were before the match
    assert (cash(ex, 0), cash(ex, 1), shares(ex, 0, YES), shares(ex, 1, YES)) == before


def test_retrying_trade_still_confirms():
    ex, _, events, c = _setup()
    ex.faults.trade_retry_rate = 1.0
    place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")
    ex.deposit(ADDRS[1], 10, YES)
    tid = place(ex, c[1], KEYS[1], YES, "SELL", "0.50", "10")["tradeIDs"][0]
    first_hash = ex.trades[tid].transaction_hash
    ex.advance_to(START + 60_000)
    assert [t["status"] for t in user_events(events, ADDRS[1], "trade")] == [
        "MATCHED",
        "RETRYING",
        "MINED",
        "CONFIRMED",
    ]
    assert ex.trades[tid].transaction_hash != first_hash  # resubmitted


def test_heartbeat_rotation_and_auto_cancel():
    ex, _, events, c = _setup()
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")["orderID"]
    hb = ex.heartbeat(c[0], "")
    with pytest.raises(ExchangeError) as err:
        ex.heartbeat(c[0], "stale")
    assert err.value.body["heartbeat_id"] == hb
    ex.advance_to(START + 10_000)
    hb = ex.heartbeat(c[0], hb)
    ex.advance_to(START + 24_999)
    assert ex.orders[oid].status == "LIVE"  # 14.999 s after the last heartbeat
    ex.advance_to(START + 25_000)
    assert ex.orders[oid].status == "CANCELED"
    assert user_events(events, ADDRS[0], "order")[-1]["type"] == "CANCELLATION"
    assert ex.heartbeat(c[0], "") != hb  # a new session starts with an empty id


def test_orders_without_heartbeats_are_never_auto_cancelled():
    ex, _, _, c = _setup()
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")["orderID"]
    ex.advance_to(START + 3_600_000)
    assert ex.orders[oid].status == "LIVE"


def test_gtd_expires():
    ex, _, events, c = _setup()
    exp = START // 1000 + 120
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10", order_type="GTD", expiration=exp)["orderID"]
    ex.advance_to(exp * 1000 - 1)
    assert ex.orders[oid].status == "LIVE"
    ex.advance_to(exp * 1000)
    assert ex.orders[oid].status == "CANCELED_EXPIRED_ORDER"
    assert ex.accounts[ADDRS[0].lower()].reserved_cash == 0


def test_background_crossing_a_resting_order_trades_at_the_users_price():
    ex, _, events, c = _setup()
    ex.deposit(ADDRS[0], 50, YES)
    oid = place(ex, c[0], KEYS[0], YES, "SELL", "0.55", "20")["orderID"]
    ex.set_background(CID, [("0.60", "12"), ("0.50", "100")], [("0.65", "100")])
    order = ex.orders[oid]
    assert order.matched == 12_000_000
    assert cash(ex, 0) == 10_000_000_000 + 6_600_000
    trade = user_events(events, ADDRS[0], "trade")[0]
    assert trade["trader_side"] == "MAKER" and trade["maker_orders"][0]["price"] == "0.55"
    # the background's leftover never rests above our ask: its bid came in at 0.60 and was filled
    assert ex.top(YES) == (5000, 5500)


def test_background_replaces_levels_without_trading_with_itself():
    ex, _, _, c = _setup()
    ex.set_background(CID, [("0.49", "100")], [("0.51", "100")])
    ex.set_background(CID, [("0.51", "100")], [("0.53", "100")])  # the book moved up a tick
    assert not ex.trades
    assert ex.top(YES) == (5100, 5300)
    assert ex.book_summary(YES)["bids"] == [{"price": "0.51", "size": "100"}]


def test_price_change_has_both_tokens_mirrored_with_best_prices():
    ex, _, events, c = _setup()
    ex.set_background(CID, [("0.49", "100")], [("0.51", "100")])
    events.clear()
    place(ex, c[0], KEYS[0], YES, "BUY", "0.50", "10")
    (pc,) = market_events(events, "price_change")
    yes_entry, no_entry = pc["price_changes"]
    assert yes_entry == {
        "asset_id": YES,
        "price": "0.5",
        "size": "10",
        "side": "BUY",
        "hash": yes_entry["hash"],
        "best_bid": "0.5",
        "best_ask": "0.51",
    }
    assert no_entry == {
        "asset_id": NO,
        "price": "0.5",
        "size": "10",
        "side": "SELL",
        "hash": yes_entry["hash"],
        "best_bid": "0.49",
        "best_ask": "0.5",
    }
    assert len(yes_entry["hash"]) == 40 and pc["timestamp"] == str(START)


def test_trade_publishes_last_trade_price_and_fresh_books():
    ex, _, events, c = _setup()
    ex.set_background(CID, [], [("0.51", "100")])
    events.clear()
    place(ex, c[0], KEYS[0], YES, "BUY", "0.51", "10")
    ltp = market_events(events, "last_trade_price")
    assert {(e["asset_id"], e["price"], e["side"]) for e in ltp} == {
        (YES, "0.51", "BUY"),
        (NO, "0.49", "SELL"),
    }
    books = market_events(events, "book")
    assert {b["asset_id"] for b in books} == {YES, NO}
    assert next(b for b in books if b["asset_id"] == YES)["last_trade_price"] == "0.51"


def test_tick_size_changes_near_the_extremes():
    ex, _, events, c = _setup()
    ex.set_background(CID, [("0.97", "100")], [("0.98", "100")])
    changes = market_events(events, "tick_size_change")
    assert {(e["asset_id"], e["old_tick_size"], e["new_tick_size"]) for e in changes} == {
        (YES, "0.01", "0.001"),
        (NO, "0.01", "0.001"),
    }
    oid = place(ex, c[0], KEYS[0], YES, "BUY", "0.975", "10")["orderID"]
    ex.cancel(c[0], [oid])
    ex.set_background(CID, [("0.50", "100")], [("0.52", "100")])
    assert ex.market_of(YES).tick == 100


def test_market_close_cancels_orders_and_resolution_pays_winners():
    from engine.domain import Resolution
    from engine.feeds.replay import ReplayMarket

    m = market(end_ts=START + 60_000)
    ex, _, events, c = _setup(ReplayMarket(m, Resolution(CID, START + 60_000, Decimal(1))))
    ex.deposit(ADDRS[0], 10, YES)
    ex.deposit(ADDRS[1], 10, NO)
    oid = place(ex, c[2], KEYS[2], YES, "BUY", "0.40", "10")["orderID"]
    ex.advance_to(START + 60_000)
    assert ex.orders[oid].status == "CANCELED_MARKET_RESOLVED"
    assert cash(ex, 0) == 10_010_000_000 and cash(ex, 1) == 10_000_000_000
    resolved = market_events(events, "market_resolved")[0]
    assert resolved["winning_asset_id"] == YES and resolved["winning_outcome"] == "Yes"
    with pytest.raises(ExchangeError) as err:
        place(ex, c[2], KEYS[2], YES, "BUY", "0.40", "10")
    assert err.value.message == E.MARKET_NOT_READY


def test_trading_modes():
    ex, _, _, c = _setup()
    ex.faults.trading_mode = "cancel_only"
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")
    assert err.value.status == 503 and err.value.message == E.CANCEL_ONLY
    ex.faults.trading_mode = "post_only"
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")
    assert err.value.body == {"error": E.POST_ONLY_MODE, "code": "post_only_mode", "retry_after_seconds": 79}
    assert place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10", post_only=True)["status"] == "live"


def test_deposit_wallet_only_mode_refuses_eoa_makers():
    ex, _, _, c = _setup(allow_eoa=False)
    with pytest.raises(ExchangeError) as err:
        place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")
    assert err.value.message == E.DEPOSIT_WALLET_ONLY


def test_neg_risk_market_needs_the_neg_risk_domain():
    ex, _, _, c = _setup(market(neg_risk=True))
    assert place(ex, c[0], KEYS[0], YES, "BUY", "0.40", "10")["status"] == "live"
    wrong = post_body(order_json(KEYS[0], YES, "BUY", "0.40", "10", neg_risk=False), c[0].key)
    with pytest.raises(ExchangeError) as err:
        parse_post_order(wrong, c[0], ex)
    assert err.value.message == E.INVALID_SIGNATURE


def test_bundled_replay_runs_as_background():
    from engine.feeds.replay import bundled_paths, load_markets, read_lines
    from localexchange.core import Exchange, ManualClock

    books, markets_file = bundled_paths()
    catalog = load_markets(markets_file)
    clock = ManualClock(START)
    ex = Exchange(catalog, read_lines(books, catalog), clock=clock, speed=None)
    assert any(
        b.best_bid() is not None for b in ex.books.values()
    )  # the first recorded line is there at start
    ex.advance_to(START + 120_000)
    assert not ex.trades
    tops = [ex.books[cid].top(True) for cid in ex.markets]
    assert any(b is not None and a is not None and b < a for b, a in tops)


def test_synthetic_feed_announces_markets():
    from engine.feeds.synthetic import SyntheticConfig, synthetic_feed
    from localexchange.core import Exchange, ManualClock

    cfg = SyntheticConfig(seed=3, markets=3, neg_risk_markets=0, update_ms=3000)
    ex = Exchange(None, synthetic_feed(cfg, rounds=1), clock=ManualClock(START), speed=None)
    seen = []
    ex.sinks.append(seen.append)
    assert len(ex.markets) == 1  # rounds open their markets on staggered slots
    ex.advance_to(START + 900_000)
    assert len(ex.markets) == 3
    announced = market_events(seen, "new_market")
    assert len(announced) == 2 and all(e["condition_id"] in ex.markets for e in announced)
    assert all(ex.books[cid].best_bid() is not None for cid in list(ex.markets)[1:])


def test_deposit_wallet_orders_poly_1271():
    from engine.venues.polymarket.clob.signing import OrderV2, sign_order, to_checksum

    ex, _, _, c = _setup(allow_eoa=False)
    wallet = to_checksum("0x" + "77" * 20)
    order = OrderV2(
        salt=5,
        maker=wallet,
        signer=wallet,
        token_id=int(YES),
        maker_amount=5_000_000,
        taker_amount=10_000_000,
        side=0,
        signature_type=3,
        timestamp=START,
    )
    body = post_body(order.to_json(sign_order(order, KEYS[0])), c[0].key)
    resp = ex.place(c[0], parse_post_order(body, c[0], ex))
    assert resp["status"] == "live"
    assert [o.id for o in ex.open_orders(c[0])] == [resp["orderID"]]
    assert ex.accounts[wallet.lower()].reserved_cash == 5_000_000  # the wallet's funds, not the EOA's
    assert ex.balance_allowance(ex.funder_for(c[0], 3), "COLLATERAL", None)["balance"] == str(10_000 * 10**6)
    forged = post_body(order.to_json(sign_order(order, KEYS[1])), c[0].key)
    with pytest.raises(ExchangeError) as err:
        parse_post_order(forged, c[0], ex)
    assert err.value.message == E.INVALID_SIGNATURE


def test_protocol_v2_position_ids_use_the_v3_domain():
    """A token id with bits 40-103 clear is a Protocol-V2 position: the SDK signs it for ExchangeV3."""
    from engine.venues.polymarket.clob.signing import OrderV2, sign_order

    pos_yes, pos_no = str((1 << 248) | 0x100), str((1 << 248) | 0x101)
    ex, _, _, c = _setup(market("0x" + "12" * 32, pos_yes, pos_no))
    order = OrderV2(
        salt=9,
        maker=ADDRS[0],
        signer=ADDRS[0],
        token_id=int(pos_yes),
        maker_amount=4_000_000,
        taker_amount=10_000_000,
        side=0,
        signature_type=0,
        timestamp=START,
    )
    good = post_body(order.to_json(sign_order(order, KEYS[0], version="3")), c[0].key)
    assert ex.place(c[0], parse_post_order(good, c[0], ex))["status"] == "live"
    v2_domain = post_body(order.to_json(sign_order(order, KEYS[0])), c[0].key)
    with pytest.raises(ExchangeError):
        parse_post_order(v2_domain, c[0], ex)
