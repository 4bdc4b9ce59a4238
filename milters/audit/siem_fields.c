/* SPDX-License-Identifier: BSD-2-Clause */
/* siem_fields - the fields the SIEM mappings emit (see siem_fields.h) */
#include "milters/audit/siem_fields.h"

#include <string.h>

#define E AUDIT_SIEM_ECS
#define O AUDIT_SIEM_OCSF
#define C AUDIT_SIEM_CIM

const audit_siem_field audit_siem_fields[] = {
	/* Elastic Common Schema */
	{E, "@timestamp", "date", "required"},
	{E, "ecs.version", "keyword", "required"},
	{E, "event.kind", "keyword", "optional"},
	{E, "event.category", "keyword", "optional"},
	{E, "event.type", "keyword", "optional"},
	{E, "event.action", "keyword", "optional"},
	{E, "event.outcome", "keyword", "optional"},
	{E, "event.module", "keyword", "optional"},
	{E, "event.dataset", "keyword", "optional"},
	{E, "event.sequence", "long", "optional"},
	{E, "event.duration", "long", "optional"},
	{E, "event.id", "keyword", "optional"},
	{E, "host.name", "keyword", "optional"},
	{E, "observer.vendor", "keyword", "optional"},
	{E, "observer.product", "keyword", "optional"},
	{E, "observer.version", "keyword", "optional"},
	{E, "email.from.address", "keyword", "optional"},
	{E, "email.to.address", "keyword", "optional"},
	{E, "email.cc.address", "keyword", "optional"},
	{E, "email.bcc.address", "keyword", "optional"},
	{E, "email.reply_to.address", "keyword", "optional"},
	{E, "email.subject", "keyword", "optional"},
	{E, "email.message_id", "wildcard", "optional"},
	{E, "email.local_id", "keyword", "optional"},
	{E, "email.direction", "keyword", "optional"},
	{E, "email.attachments", "nested", "optional"},
	{E, "email.attachments.file.name", "keyword", "optional"},
	{E, "email.attachments.file.mime_type", "keyword", "optional"},
	{E, "email.attachments.file.size", "long", "optional"},
	{E, "email.attachments.file.hash.sha256", "keyword", "optional"},
	{E, "tls.established", "boolean", "optional"},
	{E, "tls.version", "keyword", "optional"},
	{E, "tls.version_protocol", "keyword", "optional"},
	{E, "tls.cipher", "keyword", "optional"},
	{E, "tls.client.x509.subject.common_name", "keyword", "optional"},
	{E, "tls.client.x509.issuer.common_name", "keyword", "optional"},
	{E, "source.ip", "ip", "optional"},
	{E, "source.address", "keyword", "optional"},
	{E, "source.domain", "keyword", "optional"},
	{E, "source.port", "long", "optional"},
	{E, "source.geo.country_iso_code", "keyword", "optional"},
	{E, "source.as.number", "long", "optional"},
	{E, "source.as.organization.name", "keyword", "optional"},
	{E, "user.name", "keyword", "optional"},
	{E, "network.protocol", "keyword", "optional"},
	{E, "postern", "object", "custom"},

	/* OCSF: Email Activity (4009), Network Activity (4001), Base Event (0) */
	{O, "class_uid", "integer_t", "required"},
	{O, "class_name", "string_t", "optional"},
	{O, "category_uid", "integer_t", "required"},
	{O, "category_name", "string_t", "optional"},
	{O, "activity_id", "integer_t", "required"},
	{O, "activity_name", "string_t", "optional"},
	{O, "type_uid", "long_t", "required"},
	{O, "type_name", "string_t", "optional"},
	{O, "time", "timestamp_t", "required"},
	{O, "severity_id", "integer_t", "required"},
	{O, "severity", "string_t", "optional"},
	{O, "status_id", "integer_t", "recommended"},
	{O, "status", "string_t", "recommended"},
	{O, "status_detail", "string_t", "recommended"},
	{O, "metadata", "metadata", "required"},
	{O, "metadata.version", "string_t", "required"},
	{O, "metadata.product", "product", "required"},
	{O, "metadata.product.name", "string_t", "recommended"},
	{O, "metadata.product.vendor_name", "string_t", "recommended"},
	{O, "metadata.product.version", "string_t", "recommended"},
	{O, "metadata.log_name", "string_t", "recommended"},
	{O, "metadata.sequence", "integer_t", "optional"},
	{O, "metadata.uid", "string_t", "optional"},
	{O, "metadata.original_time", "string_t", "recommended"},
	{O, "direction_id", "integer_t", "required"},
	{O, "direction", "string_t", "optional"},
	{O, "protocol_name", "string_t", "recommended"},
	{O, "smtp_hello", "string_t", "recommended"},
	{O, "app_name", "string_t", "optional"},
	{O, "from", "email_t", "recommended"},
	{O, "to", "email_t", "recommended"},
	{O, "src_endpoint", "network_endpoint", "recommended"},
	{O, "src_endpoint.ip", "ip_t", "recommended"},
	{O, "src_endpoint.hostname", "hostname_t", "recommended"},
	{O, "src_endpoint.port", "port_t", "recommended"},
	{O, "src_endpoint.location", "location", "optional"},
	{O, "src_endpoint.location.country", "string_t", "recommended"},
	{O, "src_endpoint.autonomous_system", "autonomous_system", "optional"},
	{O, "src_endpoint.autonomous_system.number", "integer_t", "recommended"},
	{O, "src_endpoint.autonomous_system.name", "string_t", "recommended"},
	{O, "dst_endpoint", "network_endpoint", "recommended"},
	{O, "dst_endpoint.hostname", "hostname_t", "recommended"},
	{O, "email", "email", "required"},
	{O, "email.from", "email_t", "recommended"},
	{O, "email.from_list", "email_t", "optional"},
	{O, "email.to", "email_t", "recommended"},
	{O, "email.cc", "email_t", "optional"},
	{O, "email.bcc", "email_t", "optional"},
	{O, "email.reply_to_list", "email_t", "optional"},
	{O, "email.smtp_from", "email_t", "recommended"},
	{O, "email.smtp_to", "email_t", "recommended"},
	{O, "email.subject", "string_t", "recommended"},
	{O, "email.message_uid", "string_t", "recommended"},
	{O, "email.uid", "string_t", "recommended"},
	{O, "email.size", "long_t", "recommended"},
	{O, "email.files", "file", "optional"},
	{O, "email.files.name", "file_name_t", "required"},
	{O, "email.files.type_id", "integer_t", "required"},
	{O, "email.files.type", "string_t", "optional"},
	{O, "email.files.mime_type", "string_t", "optional"},
	{O, "email.files.size", "long_t", "optional"},
	{O, "email.files.hashes", "fingerprint", "recommended"},
	{O, "email.files.hashes.algorithm_id", "integer_t", "required"},
	{O, "email.files.hashes.algorithm", "string_t", "optional"},
	{O, "email.files.hashes.value", "file_hash_t", "required"},
	{O, "unmapped", "object", "optional"},

	/* Splunk CIM, Email data model */
	{C, "action", "string", "required"},
	{C, "dest", "string", "required"},
	{C, "internal_message_id", "string", "required"},
	{C, "message_id", "string", "required"},
	{C, "protocol", "string", "required"},
	{C, "recipient", "string", "required"},
	{C, "recipient_count", "number", "required"},
	{C, "return_addr", "string", "required"},
	{C, "src", "string", "required"},
	{C, "src_user", "string", "required"},
	{C, "user", "string", "required"},
	{C, "recipient_domain", "string", "optional"},
	{C, "src_user_domain", "string", "optional"},
	{C, "subject", "string", "optional"},
	{C, "size", "number", "optional"},
	{C, "duration", "number", "optional"},
	{C, "file_name", "string", "optional"},
	{C, "file_size", "number", "optional"},
	{C, "file_hash", "string", "optional"},
	{C, "vendor_product", "string", "optional"},
	{C, "time", "string", "custom"},
	{C, "postern_event", "string", "custom"},
	{C, "postern_seq", "number", "custom"},
	{C, "postern_record_sha256", "string", "custom"},
	{C, "postern_sha256", "string", "custom"},
	{C, "postern_client_name", "string", "custom"},
	{C, "postern_helo", "string", "custom"},
	{C, "postern_country", "string", "custom"},
	{C, "postern_asn", "number", "custom"},
	{C, "postern_tls_version", "string", "custom"},
	{C, "postern_tls_cipher", "string", "custom"},
	{C, "postern_tls_verified", "boolean", "custom"},
	{E, NULL, NULL, NULL}
};

/* audit_siem_field_find - the table entry of a field, or NULL */
const audit_siem_field *audit_siem_field_find(audit_siem_format fmt, const char *name)
{
	const audit_siem_field *f;

	for (f = audit_siem_fields; f->name; f++)
		if (f->fmt == fmt && strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* audit_siem_format_name - "ecs", "ocsf" or "cim" */
const char *audit_siem_format_name(audit_siem_format fmt)
{
	return fmt == AUDIT_SIEM_ECS ? "ecs" : fmt == AUDIT_SIEM_OCSF ? "ocsf" : "cim";
}
