"""Signed evidence about model versions: DSSE envelopes around in-toto statements.

A piece of evidence is built in three layers, each in its own module:

- ``predicates``: what is claimed (findings of a scan, test results, an approval, a SLSA
  verification summary); ``converters`` turn SARIF and JUnit reports into predicates;
- ``statement``: an in-toto Statement v1 binding the predicate to the artifact's sha256, as
  RFC 8785 canonical JSON;
- ``dsse``: a DSSE envelope signing the statement bytes with Ed25519 keys (``signoff.keys``).

Pure library: nothing here touches the database.
"""

from signoff.attestations.converters import (
    MAX_REPORT_BYTES,
    junit_to_predicate,
    junit_to_test_result,
    sarif_to_predicate,
)
from signoff.attestations.dsse import (
    Envelope,
    Signature,
    add_signature,
    pae,
    sign,
    verified_keyids,
)
from signoff.attestations.predicates import (
    APPROVAL_PREDICATE,
    FINDING_PREDICATE,
    TEST_RESULT_PREDICATE,
    VSA_PREDICATE,
    Approval,
    AttestationRef,
    Finding,
    FindingReport,
    InTotoTestResult,
    approval_predicate,
    finding_predicate,
    make_test_result_predicate,
    parse_approval_predicate,
    parse_finding_predicate,
    parse_test_result_predicate,
    vsa_predicate,
)
from signoff.attestations.statement import (
    PAYLOAD_TYPE,
    STATEMENT_TYPE,
    Statement,
    make_statement,
    parse_statement,
    statement_bytes,
    subject_digests,
)

__all__ = [
    "APPROVAL_PREDICATE",
    "FINDING_PREDICATE",
    "MAX_REPORT_BYTES",
    "PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "TEST_RESULT_PREDICATE",
    "VSA_PREDICATE",
    "Approval",
    "AttestationRef",
    "Envelope",
    "Finding",
    "FindingReport",
    "InTotoTestResult",
    "Signature",
    "Statement",
    "add_signature",
    "approval_predicate",
    "finding_predicate",
    "junit_to_predicate",
    "junit_to_test_result",
    "make_statement",
    "make_test_result_predicate",
    "pae",
    "parse_approval_predicate",
    "parse_finding_predicate",
    "parse_statement",
    "parse_test_result_predicate",
    "sarif_to_predicate",
    "sign",
    "statement_bytes",
    "subject_digests",
    "verified_keyids",
    "vsa_predicate",
]
