"""`han-emu cbke derive` reproduces the Smart Energy Annex C suite-1 exchange."""

import json

from han_emu.cli.main import main

CA = "0200FDE8A7F3D1084224962A4E7C54E69AC3F04DA6B8"
U_CERT = "020615E07D30ECA2DAD58002E667D94BC1B4223983070000000000000002544553545345434101090006000000000000"
V_CERT = "03045FDFC8D85FFB8B3993CB72DDCAA55F00B3E87D6D0000000000000001544553545345434101090006000000000000"
U_KEY = "01E9DDB5580CF72ECE7F215F0AE594E48DF3E7FEE8"
V_KEY = "00B8A900FCADEBABBFA383B540FCE9ED438395EAA7"
U_EPH = "0013D36DE4B1EA8E22739C381370823F404BFF8862"
V_EPH = "03D48C7210DDBCC4FB2E5E7A0AA16A0DB89540820B"
U_EPH_PUB = "0300E117C86D0E7CD128B2F34E9076CFF24AF46D7288"
V_EPH_PUB = "0306AB52062201D995B8B8591F3F086A3A2E214D845E"
EXPECTED = {
    "z": "00E0D2C3CCD5C106A89C4F6CC26A5F7EC9DF78A7BE",
    "mac_key": "90F967B22C8357C10C1C04788DE9E848",
    "key_data": "86D58AAA998E2FAEFAF9FEF49606543A",
    "macu": "B82F1F9774740C32F80FCFC3921B6420",
    "macv": "79D5F2AD1C31D4D1EE7CB719AC683C3C",
    "initiator": "0000000000000002",  # U, the subject of U's certificate
    "responder": "0000000000000001",
}


def test_initiator_side(capsys) -> None:
    code = main(["cbke", "derive", "--suite", "1", "--ca", CA, "--own-cert", U_CERT, "--own-key", U_KEY,
                 "--own-ephemeral-key", U_EPH, "--peer-cert", V_CERT, "--peer-ephemeral", V_EPH_PUB,
                 "--initiator"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED


def test_responder_side(capsys) -> None:
    code = main(["cbke", "derive", "--suite", "1", "--ca", CA, "--own-cert", V_CERT, "--own-key", V_KEY,
                 "--own-ephemeral-key", V_EPH, "--peer-cert", U_CERT, "--peer-ephemeral", U_EPH_PUB,
                 "--responder"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == EXPECTED


def test_malformed_input_is_a_clear_error(capsys) -> None:
    code = main(["cbke", "derive", "--suite", "1", "--ca", CA, "--own-cert", V_CERT[:-4], "--own-key", V_KEY,
                 "--own-ephemeral-key", V_EPH, "--peer-cert", U_CERT, "--peer-ephemeral", U_EPH_PUB,
                 "--responder"])
    assert code == 2
    assert "certificate" in capsys.readouterr().err
