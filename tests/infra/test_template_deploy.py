"""What a deploy of template.yaml can and cannot do (issue 16, items 5, 8 and 13).

* No example defaults: ``PublicBaseUrl`` and ``MinistryUrl`` have no default, their
  ``AllowedPattern`` refuses empty, non-https and example hosts (``example.id`` is a real domain:
  NIK, name and date of birth would go there, emailed links would point there), and
  samconfig.toml's placeholders fail the deploy loudly. The local stack gets its own values.
* No way around CloudFront: with ``ApiOriginDomainName`` the execute-api endpoint is disabled and
  CloudFront's origin is the API's custom domain; prod cannot deploy without it; no output names
  an execute-api URL.
* TLS 1.2 for viewers once the site's certificate is given (``WebCertificateArn``).
"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from tests.infra.test_template_invariants import DOC, REPO, RESOURCES, props

PARAMETERS = DOC["Parameters"]
REAL_SITE = "https://daftar.prakerja.go.id"
REAL_MINISTRY = "https://nik.dukcapil.kemendagri.go.id/v2"
REFUSED = ["", "https://prakerja.example.id", "https://ministry.example.id", "https://dev.prakerja.example.id",
           "https://example.com", "http://daftar.prakerja.go.id", "https://ministry.invalid", "https://nik.test",
           "https://localhost", "https://127.0.0.1.localhost", "SET-ME-production-site-url", "daftar.prakerja.go.id"]


def allowed(parameter: str, value: str) -> bool:
    """CloudFormation's AllowedPattern check (the whole value must match)."""
    return re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value) is not None


@pytest.mark.parametrize("parameter", ["PublicBaseUrl", "MinistryUrl"])
def test_deploy_parameters_have_no_default_and_refuse_example_hosts(parameter: str) -> None:
    assert "Default" not in PARAMETERS[parameter], f"{parameter} must be set by every deploy"
    refused = [v for v in REFUSED if allowed(parameter, v)]
    assert not refused, f"{parameter} accepts {refused}"
    assert allowed(parameter, REAL_SITE) and allowed(parameter, "https://daftar.prakerja.go.id:8443")


def test_the_ministry_url_may_have_a_path_the_site_origin_may_not() -> None:
    assert allowed("MinistryUrl", REAL_MINISTRY)
    assert not allowed("PublicBaseUrl", REAL_SITE + "/")  # an origin (the KTP bucket's CORS rule)
    assert not allowed("MinistryUrl", "https://ministry.example.id/v2")


def _overrides(section: dict) -> dict[str, str]:
    text = section.get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in shlex.split(text))


def test_samconfig_placeholders_fail_the_deploy_until_replaced() -> None:
    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    for env in ("default", "staging", "prod"):
        overrides = _overrides(config[env])
        for parameter in ("PublicBaseUrl", "MinistryUrl"):
            assert parameter in overrides, f"samconfig [{env}] must name {parameter} (no default)"
            assert not allowed(parameter, overrides[parameter]), (
                f"samconfig [{env}] {parameter}={overrides[parameter]} would deploy")
    prod = _overrides(config["prod"])
    assert prod["ApiOriginDomainName"].startswith("SET-ME") and not allowed("ApiOriginDomainName",
                                                                             prod["ApiOriginDomainName"])


def test_the_local_stack_has_its_own_values_for_them() -> None:
    from prakerja_local.provision import LOCAL_PARAMETERS

    assert LOCAL_PARAMETERS["PublicBaseUrl"].startswith("http://127.0.0.1")
    assert LOCAL_PARAMETERS["MinistryUrl"].startswith("http://127.0.0.1")


def test_with_an_api_origin_domain_the_execute_api_endpoint_is_off() -> None:
    api = props(RESOURCES["HttpApi"])
    assert api["DisableExecuteApiEndpoint"] == {"Fn::If": ["HasApiOrigin", True, False]}
    assert DOC["Conditions"]["HasApiOrigin"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiOriginDomainName"}, ""]}]}
    domain = RESOURCES["ApiOriginDomain"]
    assert domain["Condition"] == "HasApiOrigin"
    assert props(domain)["DomainNameConfigurations"][0]["SecurityPolicy"] == "TLS_1_2"
    assert props(RESOURCES["ApiOriginMapping"])["ApiId"] == {"Ref": "HttpApi"}
    origins = props(RESOURCES["WebDistribution"])["DistributionConfig"]["Origins"]
    api_origin = next(o for o in origins if o["Id"] == "api")
    assert api_origin["DomainName"]["Fn::If"][:2] == ["HasApiOrigin", {"Ref": "ApiOriginDomainName"}]


def test_prod_cannot_deploy_with_the_execute_api_endpoint_open() -> None:
    rule = DOC["Rules"]["ProdHasNoWayAroundCloudFront"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ApiOriginDomainName"}, ""]}]}


def test_no_output_names_an_execute_api_url() -> None:
    assert not [k for k, v in DOC["Outputs"].items() if "execute-api" in str(v.get("Value"))]


def test_viewers_need_tls_1_2_once_the_sites_certificate_exists() -> None:
    config = props(RESOURCES["WebDistribution"])["DistributionConfig"]
    condition, with_certificate, without = config["ViewerCertificate"]["Fn::If"]
    assert condition == "HasWebCertificate"
    assert with_certificate == {"AcmCertificateArn": {"Ref": "WebCertificateArn"}, "SslSupportMethod": "sni-only",
                                "MinimumProtocolVersion": "TLSv1.2_2021"}
    assert without == {"CloudFrontDefaultCertificate": True}
    assert config["Aliases"]["Fn::If"][:2] == ["HasWebCertificate", [{"Ref": "WebDomainName"}]]
