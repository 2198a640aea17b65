"""Every check type on run logs built frame by frame: passing, failing and
pending, with the evidence sentences and frame numbers a report shows."""

from __future__ import annotations

import dataclasses
import pytest
import zigpy.types as t
import zigpy.zdo.types as zdo_t
from zigpy.zcl import foundation

from clusters import KeyEstablishment, Messaging, Metering, Price, SubGhz
from clusters.ids import KEY_ESTABLISHMENT, MESSAGING, METERING, PRICE, SUB_GHZ, TIME
from clusters.metering import EXPORT_SITE_ID_ATTR, EXPORT_SITE_ID_MANUFACTURER, tier_summation_attr
from clusters.price import tier_block_price_attr
from han_emu.conform.checks import CHECKS, CheckError, check_params, evaluate
from han_emu.conform.model import CheckSpec, EventRecord, Observation, RunLog, Verdict
from tests.conform.builders import GC, Frames

M = Metering.AttributeDefs
DEMAND = M.instantaneous_demand.id
ST = foundation.Status


def judge(type_: str, observations: list[Observation], duration: float = 100.0,
          events: list[EventRecord] | None = None, **params: object) -> Verdict:
    log = RunLog("test-plan", "virtual ihd", duration, observations, events or [])
    (verdict,) = evaluate([CheckSpec(type_, f"my {type_}", dict(params))], log)
    return verdict


def read_rsp(f: Frames, time: float, cluster: int, records: list[tuple[int, int]], ep: int = 1) -> Observation:
    recs = [foundation.ReadAttributeRecord(a, status, foundation.TypeValue(0x21, t.uint16_t(5)) if status == 0 else None)
            for a, status in records]
    payload = foundation.GENERAL_COMMANDS[GC.Read_Attributes_rsp].schema(status_records=recs).serialize()
    bad = next((s for _, s in records if s), None)
    return f.zcl(time, False, cluster, GC.Read_Attributes_rsp, payload, ep=ep, general=True,
                 attributes=tuple(a for a, _ in records), status=bad)


# -- parameters ----------------------------------------------------------------------------------

def test_every_type_is_documented_and_its_defaults_resolve() -> None:
    assert set(CHECKS) == {"reads-attribute", "discovers-endpoint", "reads-mp184-export", "asks-profile",
                           "follows-price-change", "confirms-message", "recovers-after-restart",
                           "completes-cbke", "obeys-suspend", "no-unserved-attributes"}
    for kind in CHECKS.values():
        assert kind.doc.endswith(".") and "\n" not in kind.doc
        given = {"cluster": "Metering", "attribute": "instantaneous_demand"} if kind.name == "reads-attribute" else {}
        resolved = kind.resolve(given)
        assert set(resolved) == {p.name for p in kind.params}


@pytest.mark.parametrize(("spec", "message"), [
    (CheckSpec("reads-atribute", "poll", {}),
     "check 'poll': unknown type 'reads-atribute' (one of reads-attribute, discovers-endpoint,"),
    (CheckSpec("reads-attribute", "poll", {"cluster": "Metering"}),
     "check 'poll' (reads-attribute): parameter 'attribute' is required"),
    (CheckSpec("reads-attribute", "poll", {"cluster": "Metring", "attribute": 0}),
     "check 'poll' (reads-attribute): cluster: a cluster name (Basic, Identify, Time, Price, Metering,"),
    (CheckSpec("reads-attribute", "poll", {"cluster": "Metering", "attribute": "demand"}),
     "check 'poll' (reads-attribute): attribute: a Metering attribute name (as zigpy names it, e.g. "
     "instantaneous_demand) or a 16-bit id, got 'demand'"),
    (CheckSpec("reads-attribute", "poll", {"cluster": "Metering", "attribute": 0, "every_s": 0}),
     "check 'poll' (reads-attribute): every_s: a number of seconds above 0, got 0"),
    (CheckSpec("reads-attribute", "poll", {"cluster": "Metering", "attribute": 0, "endpoint": "third"}),
     "check 'poll' (reads-attribute): endpoint: \"primary\" or \"secondary\", got 'third'"),
    (CheckSpec("asks-profile", "p", {"channel": "export"}),
     "check 'p' (asks-profile): channel: an interval channel number or name (consumption_delivered (0), "
     "consumption_received (1)), got 'export'"),
    (CheckSpec("confirms-message", "c", {"within": 5}),
     "check 'c' (confirms-message): unknown parameter 'within' (takes within_s)"),
    (CheckSpec("no-unserved-attributes", "n", {"x": 1}),
     "check 'n' (no-unserved-attributes): unknown parameter 'x' (takes no parameters)"),
    (CheckSpec("follows-price-change", "f", {"within_s": True}),
     "check 'f' (follows-price-change): within_s: a number of seconds above 0, got True"),
])
def test_bad_parameters_get_one_clear_sentence(spec: CheckSpec, message: str) -> None:
    with pytest.raises(CheckError) as err:
        check_params(spec)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_names_and_ids_resolve_alike() -> None:
    by_name = check_params(CheckSpec("reads-attribute", "a", {"cluster": "price", "attribute": "price_trailing_digit",
                                                              "endpoint": "secondary"}))
    digit = Price.AttributeDefs.price_trailing_digit.id
    by_id = check_params(CheckSpec("reads-attribute", "a", {"cluster": f"0x{PRICE:04X}", "attribute": digit,
                                                            "endpoint": "secondary"}))
    assert by_name == by_id
    assert check_params(CheckSpec("asks-profile", "p", {"channel": "Consumption_Delivered"}))["channel"] == 0


# -- reads-attribute -------------------------------------------------------------------------------

def polls(f: Frames, times: list[float], ep: int = 1) -> list[Observation]:
    out = []
    for t in times:
        out.append(f.read(t, METERING, (DEMAND, M.current_summ_delivered.id), ep=ep))
        out.append(read_rsp(f, t + 0.05, METERING, [(DEMAND, 0), (M.current_summ_delivered.id, 0)], ep=ep))
    return out


def test_reads_attribute_passes_on_a_10_s_poll() -> None:
    f = Frames()
    v = judge("reads-attribute", polls(f, [5, 15, 25, 35.5, 45, 55, 65, 75, 85, 95]), cluster="Metering",
              attribute="instantaneous_demand")
    assert v.passed is True
    assert v.expected == ("the DUT reads Metering instantaneous_demand (0x0400) on the primary ESI (endpoint 1), "
                          "or is sent reports of it, at least every 10 s from its first read to the end of the run "
                          "(not counting time suspended by the hub or with the meter silent)")
    assert v.seen == "read 10 times from frame 1 (t=5 s); longest gap 10.5 s"
    assert v.frames == (1, 5, 7)  # the first read, and the longest gap's ends


def test_reads_attribute_fails_on_a_gap_and_names_its_frames() -> None:
    f = Frames()
    obs = polls(f, [5, 15, 25, 85, 95])
    v = judge("reads-attribute", obs, cluster="Metering", attribute=DEMAND, every_s=10)
    assert v.passed is False
    assert v.seen == ("read 5 times from frame 1 (t=5 s), but 1 gap over 11 s; the longest 60 s, "
                      "from frame 5 (t=25 s) to frame 7 (t=85 s)")
    assert v.frames == (5, 7)
    # Reads on the other ESI do not count
    v = judge("reads-attribute", obs, cluster="Metering", attribute=DEMAND, endpoint="secondary")
    assert (v.passed, v.seen) == (False, "never read or reported in 100 s")


def test_reads_attribute_counts_reports_and_forgives_a_suspension() -> None:
    f = Frames()
    obs = polls(f, [5, 15])
    report = f.zcl(22, False, METERING, GC.Report_Attributes, b"", general=True, attributes=(DEMAND,))
    suspend = f.zcl(30, False, SUB_GHZ, SubGhz.ClientCommandDefs.suspend_zcl_messages.id, bytes([1]))
    obs += [report, suspend, *polls(f, [91, 100])]
    v = judge("reads-attribute", obs, duration=105, cluster="Metering", attribute=DEMAND)
    assert v.passed is True, v.seen  # 22 -> 91 is 69 s, 60 of them suspended: 9 s
    assert v.seen == "read 5 times (1 by report) from frame 1 (t=5 s); longest gap 10 s"


def test_reads_attribute_forgives_the_meter_being_silent_and_one_period_after() -> None:
    f = Frames()
    obs = polls(f, [5, 15, 25, 92, 100])  # the meter silent from 30 s to 80 s
    events = [EventRecord("supply-interruption", 30.0, outcome={"end": 80.0})]
    v = judge("reads-attribute", obs, 105, events, cluster="Metering", attribute=DEMAND)
    assert (v.passed, v.seen) == (True, "read 5 times from frame 1 (t=5 s); longest gap 10 s")
    v = judge("reads-attribute", polls(Frames(), [5, 15, 25, 98, 100]), 105, events, cluster="Metering",
              attribute=DEMAND)  # back 18 s after the meter: 13 s beyond the silence and one period
    assert v.passed is False and v.seen.endswith("the longest 13 s, from frame 5 (t=25 s) to frame 7 (t=98 s)")


def test_reads_attribute_is_pending_when_the_run_is_too_short() -> None:
    v = judge("reads-attribute", [], duration=5, cluster="Metering", attribute=DEMAND)
    assert (v.passed, v.seen) == (None, "no read yet; the run ended after 5 s")


# -- discovers-endpoint -----------------------------------------------------------------------------

def match_rsp(f: Frames, time: float, eps: list[int]) -> Observation:
    return f.zdo(time, False, zdo_t.ZDOCmd.Match_Desc_rsp, bytes([0, 0, 0, len(eps), *eps]))


def test_discovers_endpoint_by_match_desc_then_talking() -> None:
    f = Frames()
    ask = f.zdo(1, True, zdo_t.ZDOCmd.Match_Desc_req, b"\xfd\xff\x09\x01\x01\x02\x07\x00")
    obs = [ask, match_rsp(f, 1.1, [1, 2]), f.read(2, TIME, (0,)), f.read(3, METERING, (0,), ep=2)]
    v = judge("discovers-endpoint", obs)
    assert v.passed is True
    assert v.expected == ("a Match_Desc_rsp to the DUT lists the secondary ESI (endpoint 2) and the DUT then "
                          "sends it ZCL frames, or the DUT asks its Simple_Desc")
    assert v.seen == ("Match_Desc_rsp in frame 2 (t=1.1 s) listed endpoint 2; the DUT's first frame to it: "
                      "Metering in frame 4 (t=3 s)")
    assert v.frames == (2, 4)
    assert judge("discovers-endpoint", obs[:3]).seen == (
        "Match_Desc_rsp in frame 2 (t=1.1 s) listed endpoint 2, but the DUT sent it no ZCL frame and no "
        "Simple_Desc_req")
    f = Frames()
    only_primary = [f.zdo(1, True, zdo_t.ZDOCmd.Match_Desc_req, b""), match_rsp(f, 1.1, [1])]
    v = judge("discovers-endpoint", only_primary)
    assert (v.passed, v.seen) == (False, "the DUT sent Match_Desc_req in frame 1 (t=1 s), but no answer listed "
                                         "endpoint 2")


def test_discovers_endpoint_by_simple_desc() -> None:
    f = Frames()
    v = judge("discovers-endpoint", [f.zdo(1, True, zdo_t.ZDOCmd.Simple_Desc_req, b"\x00\x00\x02")])
    assert (v.passed, v.seen, v.frames) == (True, "Simple_Desc_req for endpoint 2 in frame 1 (t=1 s)", (1,))


def test_discovers_endpoint_on_a_stick_run_by_talking_and_says_discovery_is_not_visible() -> None:
    """A stick's firmware answers Match_Desc itself: the host sees only the DUT talking to the ESI."""
    f = Frames()
    obs = [f.read(2, METERING, (0,)), f.read(3, METERING, (0,), ep=2)]
    log = RunLog("test-plan", "znp ihd", 100.0, obs, [], zdo_visible=False)
    (v,) = evaluate([CheckSpec("discovers-endpoint", "d", {})], log)
    assert (v.passed, v.frames) == (True, (2,))
    assert v.expected == ("the DUT sends the secondary ESI (endpoint 2) ZCL frames "
                          "(a run on a stick cannot see ZDO discovery)")
    assert v.seen == ("the DUT's first frame to endpoint 2: Metering in frame 2 (t=3 s); discovery itself "
                      "(Match_Desc, Simple_Desc) is answered by the stick and not visible from the host")
    log = RunLog("test-plan", "znp ihd", 100.0, obs[:1], [], zdo_visible=False)
    (v,) = evaluate([CheckSpec("discovers-endpoint", "d", {})], log)
    assert v.passed is False and v.seen.startswith("the DUT sent endpoint 2 no ZCL frame;")
    # The same frames where ZDO is visible: no Match_Desc seen is a failure.
    assert judge("discovers-endpoint", obs).passed is False


# -- reads-mp184-export ---------------------------------------------------------------------------------

def mp184_reads(f: Frames, mpan_code: int | None = EXPORT_SITE_ID_MANUFACTURER) -> list[Observation]:
    profile = Metering.ServerCommandDefs.get_profile
    return [
        f.read(10, METERING, (M.current_summ_delivered.id, M.current_summ_received.id), ep=2),
        f.read(11, METERING, tuple(tier_summation_attr(n, received=True) for n in (1, 2)), ep=2),
        f.read(12, METERING, tuple(tier_summation_attr(n, received=True) for n in (3, 4)), ep=2),
        f.read(13, PRICE, tuple(tier_block_price_attr(n, 1, received=True) for n in range(1, 5)), ep=2),
        f.zcl(14, True, METERING, profile.id, profile.schema(interval_channel=1, end_time=0,
                                                            number_of_periods=48).serialize(), ep=2),
        f.read(15, METERING, (EXPORT_SITE_ID_ATTR,), ep=2, manufacturer=mpan_code),
    ]


def test_reads_mp184_export_finds_every_item_on_the_secondary() -> None:
    f = Frames()
    v = judge("reads-mp184-export", mp184_reads(f))
    assert v.passed is True
    assert v.expected == ("on the secondary ESI (endpoint 2) the DUT reads the MP184 export data: R1 Active Export "
                          "kWh register, R2 four TOU export registers, R2 four TOU export prices, R3 half-hourly "
                          "export profile log and R4 export MPAN")
    assert v.seen == ("all read: R1 Active Export kWh register in frame 1 (t=10 s), R2 four TOU export registers "
                      "in frame 2 (t=11 s), R2 four TOU export prices in frame 4 (t=13 s), R3 half-hourly export "
                      "profile log (GetProfile, channel 1) in frame 5 (t=14 s) and R4 export MPAN in frame 6 (t=15 s)")
    assert v.frames == (1, 2, 3, 4, 5, 6)


def test_reads_mp184_export_fails_without_the_mpan_code_or_on_the_wrong_endpoint() -> None:
    f = Frames()
    v = judge("reads-mp184-export", mp184_reads(f, mpan_code=None))
    assert v.passed is False
    assert v.seen.startswith("missing: R4 export MPAN (0xE307 never read); read: R1 Active Export kWh register in ")
    f = Frames()
    on_primary = [o.__class__(**{**o.__dict__, "dst_ep": 1}) for o in mp184_reads(f)]
    v = judge("reads-mp184-export", on_primary)
    assert v.seen == ("missing: R1 Active Export kWh register (0x0001 never read), R2 four TOU export registers "
                      "(0x0101, 0x0103, 0x0105 and 0x0107 never read), R2 four TOU export prices (0x8410, 0x8420, "
                      "0x8430 and 0x8440 never read), R3 GetProfile on channel 1 and R4 export MPAN (0xE307 never "
                      "read)")


# -- asks-profile -----------------------------------------------------------------------------------------

def test_asks_profile_reads_the_channel_with_or_without_the_header() -> None:
    profile = Metering.ServerCommandDefs.get_profile
    body0 = profile.schema(interval_channel=0, end_time=0, number_of_periods=24).serialize()
    body1 = profile.schema(interval_channel=1, end_time=0, number_of_periods=24).serialize()
    for header in (True, False):
        f = Frames()
        obs = [f.zcl(5, True, METERING, profile.id, body0, ep=2, header=header),
               f.zcl(6, True, METERING, profile.id, body1, ep=2, header=header)]
        v = judge("asks-profile", obs)
        assert (v.passed, v.seen, v.frames) == (True, "1 GetProfile, the first in frame 2 (t=6 s)", (2,))
        assert v.expected == ("the DUT asks GetProfile on interval channel 1 (Consumption_Received) of the "
                              "secondary ESI (endpoint 2)")
        v = judge("asks-profile", obs[:1])
        assert (v.passed, v.seen, v.frames) == (False, "1 GetProfile, none on channel 1 of endpoint 2", (1,))


# -- follows-price-change ---------------------------------------------------------------------------------

PUBLISH = Price.ClientCommandDefs.publish_price.id


def pushed_and_answered(status: int) -> list[Observation]:
    f = Frames()
    return [f.zcl(100.2, False, PRICE, PUBLISH, b"\x00" * 28),
            f.zcl(100.3, True, PRICE, GC.Default_Response,
                  foundation.DefaultResponse(command_id=PUBLISH, status=status).serialize(), general=True,
                  status=None if status == 0 else status)]


def test_follows_price_change_by_accepting_the_push() -> None:
    events = [EventRecord("tier-switch", 100.0)]
    v = judge("follows-price-change", pushed_and_answered(ST.SUCCESS), 200, events, within_s=30)
    assert v.passed is True
    assert v.expected == ("within 30 s of each tier switch or new prices the DUT asks GetCurrentPrice, reads the "
                          "Price cluster, or accepts the pushed PublishPrice (Default Response SUCCESS)")
    assert v.seen == "tier-switch at t=100 s: PublishPrice accepted (Default Response SUCCESS) in frame 2 (t=100.3 s)"
    assert v.frames == (1, 2)


def test_follows_price_change_fails_on_a_refused_push() -> None:
    events = [EventRecord("tier-switch", 100.0)]
    v = judge("follows-price-change", pushed_and_answered(ST.UNSUP_CLUSTER_COMMAND), 200, events, within_s=30)
    assert v.passed is False
    assert v.seen == ("tier-switch at t=100 s: the DUT refused the pushed PublishPrice (UNSUP_CLUSTER_COMMAND) in "
                      "frame 2 (t=100.3 s) and did not read the price again within 30 s")


def test_follows_price_change_by_asking_and_pending_at_the_runs_end() -> None:
    f = Frames()
    ask = f.zcl(130, True, PRICE, Price.ServerCommandDefs.get_current_price.id, b"\x01")
    events = [EventRecord("new-prices", 100.0, {"import": [0.3]}), EventRecord("tier-switch", 180.0)]
    v = judge("follows-price-change", [ask], 200, events, within_s=60)
    assert v.passed is None
    assert v.seen == ("new-prices at t=100 s: GetCurrentPrice in frame 1 (t=130 s); tier-switch at t=180 s: the "
                      "run ended 20 s after it: no PublishPrice pushed; no GetCurrentPrice, Price read or accepted "
                      "PublishPrice within 60 s")
    v = judge("follows-price-change", [ask], 300, events, within_s=60)
    assert v.passed is False and v.seen.startswith("tier-switch at t=180 s: no PublishPrice pushed")
    assert judge("follows-price-change", [ask], 300, [], within_s=60).seen == (
        "no tier-switch or new-prices event in the run")


# -- confirms-message ---------------------------------------------------------------------------------------

def confirmation(f: Frames, time: float, message_id: int) -> Observation:
    cmd = Messaging.ServerCommandDefs.message_confirmation
    return f.zcl(time, True, MESSAGING, cmd.id, cmd.schema(message_id=message_id, confirmation_time=0).serialize())


def test_confirms_message_matches_the_message_id() -> None:
    events = [EventRecord("message", 50, {"text": "hi", "confirm": True}, {"message_id": 7}),
              EventRecord("message", 60, {"text": "no need"}, {"message_id": 8})]
    f = Frames()
    v = judge("confirms-message", [confirmation(f, 55, 7)], 200, events, within_s=30)
    assert (v.passed, v.seen, v.frames) == (True, "message at t=50 s: MessageConfirmation in frame 1 (t=55 s)", (1,))
    f = Frames()
    v = judge("confirms-message", [confirmation(f, 55, 8)], 200, events, within_s=30)
    assert v.passed is False
    assert v.seen == "message at t=50 s: no DisplayMessage to the DUT seen, no MessageConfirmation within 30 s"
    assert judge("confirms-message", [], 200, events[1:]).passed is None


# -- recovers-after-restart ---------------------------------------------------------------------------------

def test_recovers_after_restart_from_the_end_of_the_interruption() -> None:
    events = [EventRecord("supply-interruption", 100, {"minutes": 1})]
    f = Frames()
    during = f.read(130, METERING, (DEMAND,))  # unanswered: the meter is silent
    req = f.read(165, METERING, (DEMAND,))
    rsp = read_rsp(f, 165.1, METERING, [(DEMAND, 0)])
    rsp = rsp.__class__(**{**rsp.__dict__, "data": rsp.data[:1] + req.data[1:2] + rsp.data[2:]})  # same TSN
    v = judge("recovers-after-restart", [during, req, rsp], 300, events, within_s=30)
    assert v.passed is True
    assert v.expected == ("within 30 s of each meter restart or supply interruption ending, a request of the DUT "
                          "is answered successfully")
    assert v.seen == "supply-interruption at t=100 s: request in frame 2 (t=165 s) answered in frame 3 (t=165.1 s)"


def test_recovers_after_restart_fails_when_refused_or_silent() -> None:
    events = [EventRecord("meter-restart", 100, outcome={"end": 110})]
    f = Frames()
    req = f.read(112, METERING, (DEMAND,))
    refused = f.zcl(112.1, False, METERING, GC.Default_Response, foundation.DefaultResponse(
        command_id=GC.Read_Attributes, status=ST.NOT_AUTHORIZED).serialize(), general=True,
        status=ST.NOT_AUTHORIZED)
    v = judge("recovers-after-restart", [req, refused], 300, events, within_s=30)
    assert v.passed is False
    assert v.seen == ("meter-restart at t=100 s: 1 requests from frame 1 (t=112 s), none answered successfully, "
                      "1 refused (NOT_AUTHORIZED)")
    assert v.frames == (1, 2)
    v = judge("recovers-after-restart", [], 300, events, within_s=30)
    assert v.seen == "meter-restart at t=100 s: no request from the DUT within 30 s of the meter's return"
    assert judge("recovers-after-restart", [], 130, events, within_s=30).passed is None


# -- completes-cbke --------------------------------------------------------------------------------------------

KE_REQ = KeyEstablishment.ServerCommandDefs
KE_RSP = KeyEstablishment.ClientCommandDefs


def cbke(f: Frames, start: float, steps: int = 6) -> list[Observation]:
    order = [(True, KE_REQ.initiate_key_establishment_request.id), (False, KE_RSP.initiate_key_establishment_response.id),
             (True, KE_REQ.ephemeral_data_request.id), (False, KE_RSP.ephemeral_data_response.id),
             (True, KE_REQ.confirm_key_data_request.id), (False, KE_RSP.confirm_key_data_response.id)]
    return [f.zcl(start + i * 0.5, incoming, KEY_ESTABLISHMENT, cmd, b"\x00" * 16)
            for i, (incoming, cmd) in enumerate(order[:steps])]


def test_completes_cbke() -> None:
    f = Frames()
    v = judge("completes-cbke", cbke(f, 1.0))
    assert v.passed is True
    assert v.expected == ("the DUT completes key establishment (InitiateKeyEstablishmentRequest, EphemeralDataRequest "
                          "and ConfirmKeyDataRequest answered, no Terminate), and again within 120 s of each CBKE "
                          "re-key")
    assert (v.seen, v.frames) == ("key established from frame 1 (t=1 s) to frame 6 (t=3.5 s)", (1, 2, 3, 4, 5, 6))


def test_times_before_the_plan_started_are_labelled() -> None:
    """On a stick the DUT joins and does CBKE before the plan starts: negative run times."""
    obs = [dataclasses.replace(o, frame=None) for o in cbke(Frames(), -2.0)]
    v = judge("completes-cbke", obs)
    assert (v.passed, v.frames) == (True, ())
    assert v.seen == "key established from t=-2 s (before the plan started) to t=0.5 s"
    assert judge("completes-cbke", obs[:1] + [dataclasses.replace(o, time=-0.02) for o in obs[1:]]
                 ).seen.startswith("key established from t=-2 s (before the plan started) to t=-0.02 s")
    framed = judge("completes-cbke", cbke(Frames(), -2.0))
    assert framed.seen == "key established from frame 1 (t=-2 s, before the plan started) to frame 6 (t=0.5 s)"


def test_completes_cbke_fails_when_cut_short_terminated_or_skipped() -> None:
    f = Frames()
    obs = cbke(f, 1.0, steps=4) + [f.zcl(4, False, KEY_ESTABLISHMENT,
                                         KE_RSP.server_terminate_key_establishment.id, b"\x02\x00\x00\x01\x00")]
    v = judge("completes-cbke", obs)
    assert v.passed is False
    assert v.seen == "Terminate in frame 5 (t=4 s)"
    v = judge("completes-cbke", obs[:3])
    assert v.seen == "key establishment from frame 1 (t=1 s) stopped after EphemeralDataRequest"
    f = Frames()
    refused = [f.read(2, METERING, (DEMAND,)), f.zcl(2.1, False, METERING, GC.Default_Response,
                                                      bytes([GC.Read_Attributes, ST.NOT_AUTHORIZED]), general=True,
                                                      status=ST.NOT_AUTHORIZED)]
    v = judge("completes-cbke", refused)
    assert (v.passed, v.frames) == (False, (2,))
    assert v.seen == ("no InitiateKeyEstablishmentRequest from the DUT; the meter refused its requests "
                      "NOT_AUTHORIZED, first in frame 2 (t=2.1 s)")


def test_completes_cbke_again_after_a_rekey() -> None:
    f = Frames()
    obs = cbke(f, 1.0) + cbke(f, 305.0)
    events = [EventRecord("cbke-rekey", 300.0)]
    v = judge("completes-cbke", obs, 400, events)
    assert v.passed is True
    assert v.seen == ("key established from frame 1 (t=1 s) to frame 6 (t=3.5 s); cbke-rekey at t=300 s: "
                      "established again, started by the DUT, from frame 7 (t=305 s) to frame 12 (t=307.5 s)")
    assert judge("completes-cbke", obs[:6], 500, events).passed is False
    assert judge("completes-cbke", obs[:6], 350, events).passed is None


def rekey_by_meter(f: Frames, start: float, steps: int = 6) -> list[Observation]:
    """The meter's re-key: it sends the requests (client to server), the DUT the responses."""
    c2s, s2c = foundation.Direction.Client_to_Server, foundation.Direction.Server_to_Client
    order = [(False, 0, c2s), (True, 0, s2c), (False, 1, c2s), (True, 1, s2c), (False, 2, c2s), (True, 2, s2c)]
    return [f.zcl(start + 0.5 * i, incoming, KEY_ESTABLISHMENT, command, direction=direction, tsn=9)
            for i, (incoming, command, direction) in enumerate(order[:steps])]


def test_completes_cbke_on_an_exchange_the_meter_started_before_the_plan() -> None:
    """A stick run whose display joined in an earlier session: the meter starts CBKE before the plan."""
    v = judge("completes-cbke", rekey_by_meter(Frames(), -3.0))
    assert (v.passed, v.seen) == (True, "key established from frame 1 (t=-3 s, before the plan started) to "
                                        "frame 6 (t=-0.5 s, before the plan started), started by the meter")


def test_completes_cbke_after_a_rekey_the_meter_started() -> None:
    f = Frames()
    obs = cbke(f, 1.0) + rekey_by_meter(f, 300.2)
    events = [EventRecord("cbke-rekey", 300.0)]
    v = judge("completes-cbke", obs, 400, events)
    assert v.passed is True
    assert v.seen == ("key established from frame 1 (t=1 s) to frame 6 (t=3.5 s); cbke-rekey at t=300 s: "
                      "established again, started by the meter, from frame 7 (t=300.2 s) to frame 12 (t=302.7 s)")
    assert v.frames == tuple(range(1, 13))  # both exchanges, frame by frame
    # Only the re-keys: the join's exchange is not asked for.
    only = judge("completes-cbke", rekey_by_meter(Frames(), 300.2), 400, events, after="cbke-rekey")
    assert only.passed is True and only.frames == (1, 2, 3, 4, 5, 6)
    assert only.expected.endswith("no Terminate), within 120 s of each CBKE re-key")
    assert judge("completes-cbke", [], 400, [], after="cbke-rekey").passed is None  # no re-key: pending


def test_completes_cbke_names_what_a_failed_rekey_showed() -> None:
    events = [EventRecord("cbke-rekey", 300.0)]
    f = Frames()
    asked = rekey_by_meter(f, 300.2, steps=1)
    refused = f.zcl(300.3, True, KEY_ESTABLISHMENT, GC.Default_Response,
                    bytes([KE_REQ.initiate_key_establishment_request.id, ST.UNSUP_CLUSTER_COMMAND]), general=True,
                    status=ST.UNSUP_CLUSTER_COMMAND)
    v = judge("completes-cbke", [*asked, refused], 500, events, after="cbke-rekey")
    assert (v.passed, v.frames) == (False, (1, 2))
    assert v.seen == "cbke-rekey at t=300 s: the DUT refused key establishment (UNSUP_CLUSTER_COMMAND) in frame 2 (t=300.3 s)"
    f = Frames()
    v = judge("completes-cbke", rekey_by_meter(f, 300.2, steps=3), 500, events, after="cbke-rekey")
    assert v.seen == "cbke-rekey at t=300 s: key establishment from frame 1 (t=300.2 s) stopped after EphemeralDataRequest"
    v = judge("completes-cbke", [], 500, events, after="cbke-rekey")
    assert v.seen == "cbke-rekey at t=300 s: no key establishment within 120 s"
    # A meter's exchange after the re-key does not stand in for the join's.
    f = Frames()
    v = judge("completes-cbke", rekey_by_meter(f, 300.2), 500, events)
    assert v.passed is False and v.seen.startswith("no InitiateKeyEstablishmentRequest from the DUT; cbke-rekey at")
    with pytest.raises(CheckError, match='after: "join" or "cbke-rekey"'):
        judge("completes-cbke", [], 500, events, after="restart")


# -- obeys-suspend -----------------------------------------------------------------------------------------------

def suspend(f: Frames, time: float, minutes: int) -> Observation:
    return f.zcl(time, False, SUB_GHZ, SubGhz.ClientCommandDefs.suspend_zcl_messages.id, bytes([minutes]))


def test_obeys_suspend() -> None:
    events = [EventRecord("subghz-suspend", 100.0, {"minutes": 1})]
    f = Frames()
    obs = [suspend(f, 100.1, 1), f.read(100.5, METERING, (DEMAND,)),  # already under way
           f.zcl(100.6, True, SUB_GHZ, GC.Default_Response, bytes([0, 0]), general=True),  # its answer: allowed
           f.read(161, METERING, (DEMAND,))]
    v = judge("obeys-suspend", obs, 200, events)
    assert v.passed is True
    assert v.expected == ("no ZCL request from the DUT while the hub has it suspended (Sub-GHz Suspend ZCL Messages), "
                          "after each Sub-GHz suspend event (requests already under way within 1 s excepted)")
    assert v.seen == "subghz-suspend at t=100 s: suspended from frame 1 (t=100.1 s) to t=160.1 s: no request"
    broken = obs + [f.read(130, METERING, (DEMAND,))]
    broken.sort(key=lambda o: o.time)
    v = judge("obeys-suspend", broken, 200, events)
    assert v.passed is False
    assert v.seen == ("subghz-suspend at t=100 s: suspended from frame 1 (t=100.1 s) to t=160.1 s, but 1 requests "
                      "in it, the first in frame 5 (t=130 s)")
    assert v.frames == (1, 5)


def test_obeys_suspend_is_pending_when_undecided() -> None:
    events = [EventRecord("subghz-suspend", 100.0)]
    f = Frames()
    v = judge("obeys-suspend", [suspend(f, 100.1, 5)], 200, events)
    assert (v.passed, v.seen) == (None, "subghz-suspend at t=100 s: suspended from frame 1 (t=100.1 s) to "
                                        "t=400.1 s, no request before the run ended")
    v = judge("obeys-suspend", [], 200, events)
    assert (v.passed, v.seen) == (None, "subghz-suspend at t=100 s: the hub sent the DUT no Suspend ZCL Messages "
                                        "after it")
    # A period of 0 lifts the suspension early: a request after it is fine
    f = Frames()
    obs = [suspend(f, 100.1, 5), suspend(f, 120, 0), f.read(125, METERING, (DEMAND,))]
    assert judge("obeys-suspend", obs, 200, events).passed is True


# -- no-unserved-attributes ---------------------------------------------------------------------------------------

def test_no_unserved_attributes() -> None:
    f = Frames()
    good = [f.read(1, METERING, (DEMAND,)), read_rsp(f, 1.1, METERING, [(DEMAND, 0)])]
    v = judge("no-unserved-attributes", good)
    assert (v.passed, v.seen) == (True, "1 Read Attributes Responses, none UNSUPPORTED_ATTRIBUTE")
    bad = good + [f.read(2, METERING, (DEMAND, 0x0B01)),
                  read_rsp(f, 2.1, METERING, [(DEMAND, 0), (0x0B01, ST.UNSUPPORTED_ATTRIBUTE)], ep=2)]
    v = judge("no-unserved-attributes", bad)
    assert v.passed is False
    assert v.seen == "1 answers with UNSUPPORTED_ATTRIBUTE, the first in frame 4 (t=2.1 s): Metering attribute " \
                     "0x0B01 on endpoint 2"
    assert v.frames == (4,)


def test_evaluate_keeps_the_plans_order_and_specs() -> None:
    specs = [CheckSpec("no-unserved-attributes", "b"), CheckSpec("completes-cbke", "a")]
    verdicts = evaluate(specs, RunLog("p", "d", 10.0))
    assert [v.spec for v in verdicts] == specs and [v.passed for v in verdicts] == [True, False]
