"""The region's RPC is real gRPC: Debian's python3-grpcio talks to it using
the .proto contract, and the TLS rules hold for a client that is not ours."""

import os
import subprocess

import grpc
import pytest


def read(path):
    with open(path, "rb") as f:
        return f.read()


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, cwd=cwd, capture_output=True)


def channel(region, key=None, cert=None, ca=None):
    ca = ca or read(os.path.join(region.state_dir, "tls", "ca.crt"))
    creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    return grpc.secure_channel(region.grpc_target, creds,
                               options=[("grpc.ssl_target_name_override", "ironrack-region")])


def register(pb, ch, timeout=10):
    call = ch.unary_unary("/ironrack.v1.Region/Register",
                          request_serializer=pb.RegisterRequest.SerializeToString,
                          response_deserializer=pb.RegisterResponse.FromString)
    req = pb.RegisterRequest(hostname="py", version="test",
                             interfaces=[pb.Interface(name="eth9", mac="02:00:00:00:00:99",
                                                      addresses=["192.0.2.99/24"], vlan=7)])
    return call(req, timeout=timeout)


def test_python_client_registers_with_rack_certificate(region, make_rack, pb):
    rack = make_rack("rack-a")
    tls = os.path.join(rack.state_dir, "tls")
    with channel(region, read(os.path.join(tls, "rack.key")), read(os.path.join(tls, "rack.crt"))) as ch:
        resp = register(pb, ch)
    assert resp.rack_id == rack.rack_id
    assert resp.heartbeat_interval_s == 1
    r = region.racks()[rack.rack_id]
    assert r["hostname"] == "py"
    assert r["interfaces"][0]["name"] == "eth9" and r["interfaces"][0]["vlan"] == 7
    assert r["interfaces"][0]["addresses"] == ["192.0.2.99/24"]


def test_unknown_method_is_unimplemented(region, make_rack, pb):
    rack = make_rack("rack-a")
    tls = os.path.join(rack.state_dir, "tls")
    with channel(region, read(os.path.join(tls, "rack.key")), read(os.path.join(tls, "rack.crt"))) as ch:
        call = ch.unary_unary("/ironrack.v1.Region/NoSuchMethod")
        with pytest.raises(grpc.RpcError) as e:
            call(b"", timeout=10)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "unknown method" in region.daemon.text()


def test_enrol_over_python_then_register(region, pb, tmp_path):
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "k.pem", "-out", "csr.pem", "-subj", "/CN=ignored", cwd=tmp_path)
    with channel(region) as ch:
        enrol = ch.unary_unary("/ironrack.v1.Region/Enrol",
                               request_serializer=pb.EnrolRequest.SerializeToString,
                               response_deserializer=pb.EnrolResponse.FromString)
        resp = enrol(pb.EnrolRequest(secret=region.secret, csr_pem=read(tmp_path / "csr.pem").decode(),
                                     hostname="pyrack", version="t"), timeout=10)
    assert resp.rack_id.startswith("rack-")
    with channel(region, read(tmp_path / "k.pem"), resp.cert_pem.encode()) as ch:
        assert register(pb, ch).rack_id == resp.rack_id


def test_register_without_client_certificate_is_refused(region, pb):
    with channel(region) as ch, pytest.raises(grpc.RpcError) as e:
        register(pb, ch)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "no client certificate" in region.daemon.text()


def test_self_signed_client_certificate_is_refused(region, pb, tmp_path):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=rack-forged", cwd=tmp_path)
    with channel(region, read(tmp_path / "k.pem"), read(tmp_path / "c.pem")) as ch, \
            pytest.raises(grpc.RpcError) as e:
        register(pb, ch, timeout=5)
    assert e.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)
    assert region.racks() == {}
    text = region.daemon.text().lower()
    assert "handshake" in text or "certificate verify failed" in text, text[-2000:]


def test_certificate_from_region_ca_for_unknown_rack_is_refused(region, pb, tmp_path):
    """Signed by the right CA but never enrolled (e.g. a deleted rack)."""
    tls = os.path.join(region.state_dir, "tls")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "k.pem", "-out", "r.csr", "-subj", "/CN=rack-000000000000", cwd=tmp_path)
    (tmp_path / "ext").write_text("extendedKeyUsage=clientAuth\n")
    openssl("x509", "-req", "-in", "r.csr", "-CA", os.path.join(tls, "ca.crt"), "-CAkey",
            os.path.join(tls, "ca.key"), "-set_serial", "77", "-days", "2", "-extfile", "ext",
            "-out", "c.pem", cwd=tmp_path)
    with channel(region, read(tmp_path / "k.pem"), read(tmp_path / "c.pem")) as ch, \
            pytest.raises(grpc.RpcError) as e:
        register(pb, ch)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "is not an enrolled rack" in region.daemon.text()


def test_plaintext_client_is_refused(region, pb):
    with grpc.insecure_channel(region.grpc_target) as ch, pytest.raises(grpc.RpcError) as e:
        register(pb, ch, timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert region.racks() == {}
