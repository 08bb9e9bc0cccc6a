//! Diesel table definitions, kept by hand in step with migrations/ (the store's tests
//! exercise every table, so a column that drifts fails them).

diesel::table! {
    workspaces (id) {
        id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
        time_zone -> Text,
        week_start -> Text,
        connect_return_urls -> Array<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        name -> Text,
        display_prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    integrations (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        provider -> Text,
        display_name -> Text,
        status -> Text,
        auth_kind -> Text,
        config -> Jsonb,
        scopes -> Array<Text>,
        token_expires_at -> Nullable<Timestamptz>,
        schedule_seconds -> Int4,
        sync_enabled -> Bool,
        next_sync_at -> Nullable<Timestamptz>,
        last_sync_at -> Nullable<Timestamptz>,
        health -> Text,
        health_checked_at -> Nullable<Timestamptz>,
        health_message -> Nullable<Text>,
        last_error_code -> Nullable<Text>,
        last_error_message -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        claimed_at -> Nullable<Timestamptz>,
        end_user_id -> Nullable<Text>,
        end_user -> Nullable<Jsonb>,
        tags -> Nullable<Jsonb>,
        connect_session_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    operator_keys (id) {
        id -> Uuid,
        name -> Text,
        display_prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    credentials (integration_id, field) {
        workspace_id -> Uuid,
        integration_id -> Uuid,
        field -> Text,
        key_id -> Text,
        sealed -> Bytea,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    oauth_states (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        provider -> Text,
        integration_id -> Nullable<Uuid>,
        state_hash -> Bytea,
        pkce_key_id -> Nullable<Text>,
        pkce_verifier_sealed -> Nullable<Bytea>,
        redirect_uri -> Text,
        return_to -> Nullable<Text>,
        config -> Jsonb,
        display_name -> Nullable<Text>,
        schedule_seconds -> Nullable<Int4>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
        connect_session_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    connect_sessions (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        token_hash -> Bytea,
        allowed_providers -> Array<Text>,
        end_user_id -> Text,
        end_user -> Jsonb,
        tags -> Jsonb,
        return_url -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sync_runs (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Uuid,
        stream -> Nullable<Text>,
        trigger -> Text,
        status -> Text,
        job_id -> Nullable<Text>,
        attempts -> Int4,
        records_read -> Int8,
        records_written -> Int8,
        kpi_points_written -> Int8,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        queued_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        streams -> Nullable<Array<Text>>,
        records_deleted -> Int8,
    }
}

diesel::table! {
    stream_states (integration_id, stream) {
        workspace_id -> Uuid,
        integration_id -> Uuid,
        stream -> Text,
        cursor -> Nullable<Jsonb>,
        pages_committed -> Int8,
        updated_at -> Timestamptz,
        enabled -> Bool,
        schedule_seconds -> Nullable<Int4>,
        next_sync_at -> Nullable<Timestamptz>,
        last_synced_at -> Nullable<Timestamptz>,
        last_run_id -> Nullable<Uuid>,
        pass_id -> Nullable<Uuid>,
        pass_started_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    records (integration_id, stream, external_id) {
        workspace_id -> Uuid,
        integration_id -> Uuid,
        stream -> Text,
        external_id -> Text,
        data -> Jsonb,
        content_hash -> Bytea,
        provider_modified_at -> Nullable<Timestamptz>,
        first_seen_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        seen_in_pass -> Nullable<Uuid>,
    }
}

diesel::table! {
    kpi_points (integration_id, metric, date, dimension_key) {
        workspace_id -> Uuid,
        integration_id -> Uuid,
        metric -> Text,
        date -> Date,
        dimension_key -> Text,
        dimensions -> Jsonb,
        value -> Float8,
        stream -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Uuid,
        provider -> Text,
        event_id -> Text,
        event_type -> Text,
        headers -> Jsonb,
        body -> Bytea,
        status -> Text,
        attempts -> Int4,
        error_message -> Nullable<Text>,
        received_at -> Timestamptz,
        processed_at -> Nullable<Timestamptz>,
        replays -> Int4,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Nullable<Uuid>,
        queue -> Text,
        job_id -> Text,
        job -> Jsonb,
        error_code -> Text,
        error_message -> Text,
        attempts -> Int4,
        attempt_log -> Jsonb,
        first_failed_at -> Timestamptz,
        dead_at -> Timestamptz,
        replayed_at -> Nullable<Timestamptz>,
        replay_job_id -> Nullable<Text>,
    }
}

diesel::table! {
    integration_logs (id) {
        id -> Int8,
        workspace_id -> Uuid,
        integration_id -> Uuid,
        at -> Timestamptz,
        level -> Text,
        operation -> Text,
        message -> Text,
        details -> Jsonb,
        run_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    idempotency_keys (workspace_id, key) {
        workspace_id -> Uuid,
        key -> Text,
        method -> Text,
        path -> Text,
        request_hash -> Bytea,
        response_status -> Nullable<Int2>,
        response_body -> Nullable<Jsonb>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        response_content_type -> Nullable<Text>,
        response_raw -> Nullable<Bytea>,
    }
}

diesel::table! {
    alert_rules (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Nullable<Uuid>,
        name -> Text,
        metric -> Text,
        condition -> Text,
        threshold -> Float8,
        window_days -> Int4,
        recipients -> Array<Text>,
        enabled -> Bool,
        created_at -> Timestamptz,
        last_triggered_at -> Nullable<Timestamptz>,
        firing_since -> Nullable<Timestamptz>,
        last_value -> Nullable<Float8>,
        last_evaluated_at -> Nullable<Timestamptz>,
        currency -> Nullable<Text>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        kind -> Text,
        dedupe_key -> Text,
        alert_rule_id -> Nullable<Uuid>,
        integration_id -> Nullable<Uuid>,
        recipients -> Array<Text>,
        subject -> Text,
        status -> Text,
        provider_message_id -> Nullable<Text>,
        error_message -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        details -> Jsonb,
    }
}

diesel::table! {
    email_suppressions (workspace_id, address) {
        workspace_id -> Uuid,
        address -> Text,
        reason -> Text,
        source_integration_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    action_runs (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Uuid,
        action -> Text,
        mode -> Text,
        status -> Text,
        input -> Jsonb,
        output -> Nullable<Jsonb>,
        external_id -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        provider_idempotency_key -> Text,
        attempts -> Int4,
        created_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
        suppressed_recipients -> Array<Text>,
    }
}

diesel::table! {
    notification_settings (workspace_id) {
        workspace_id -> Uuid,
        sync_failed_recipients -> Array<Text>,
        needs_reauth_recipients -> Array<Text>,
        dead_letter_recipients -> Array<Text>,
        delivery -> Text,
        digest_hour -> Int2,
        time_zone -> Text,
        last_digest_on -> Nullable<Date>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    weekly_report_settings (workspace_id) {
        workspace_id -> Uuid,
        enabled -> Bool,
        recipients -> Array<Text>,
        weekday -> Int2,
        hour -> Int2,
        time_zone -> Text,
        metrics -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        workspace_id -> Uuid,
        queue -> Text,
        job_id -> Text,
        job -> Jsonb,
        created_at -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        relay_attempts -> Int4,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoint_secrets (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        endpoint_id -> Uuid,
        key_id -> Text,
        sealed -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbound_events (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        event_type -> Text,
        integration_id -> Nullable<Uuid>,
        dedupe_key -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    outbound_deliveries (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Uuid,
        status -> Text,
        attempts -> Int4,
        job_id -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        succeeded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    outbound_attempts (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        delivery_id -> Uuid,
        event_id -> Uuid,
        endpoint_id -> Uuid,
        attempt -> Int4,
        url -> Text,
        status_code -> Nullable<Int4>,
        latency_ms -> Int4,
        response_excerpt -> Nullable<Text>,
        succeeded -> Bool,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        attempted_at -> Timestamptz,
        next_attempt_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    dashboard_sessions (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        session_hash -> Bytea,
        csrf_secret -> Bytea,
        api_key_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    dashboard_sign_in_links (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    cross_posts (id) {
        id -> Uuid,
        workspace_id -> Uuid,
        canonical_url -> Text,
        article -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    cross_post_targets (cross_post_id, integration_id) {
        cross_post_id -> Uuid,
        workspace_id -> Uuid,
        integration_id -> Uuid,
        position -> Int2,
        options -> Jsonb,
        publish_run_id -> Uuid,
        update_run_id -> Nullable<Uuid>,
        notes -> Array<Text>,
    }
}

diesel::joinable!(webhook_endpoint_secrets -> webhook_endpoints (endpoint_id));
diesel::joinable!(outbound_deliveries -> outbound_events (event_id));
diesel::joinable!(outbound_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(outbound_attempts -> outbound_deliveries (delivery_id));

diesel::allow_tables_to_appear_in_same_query!(
    workspaces,
    api_keys,
    integrations,
    credentials,
    oauth_states,
    sync_runs,
    stream_states,
    records,
    kpi_points,
    webhook_events,
    dead_letters,
    integration_logs,
    idempotency_keys,
    alert_rules,
    notifications,
    email_suppressions,
    action_runs,
    notification_settings,
    weekly_report_settings,
    outbox,
    webhook_endpoints,
    webhook_endpoint_secrets,
    outbound_events,
    outbound_deliveries,
    outbound_attempts,
    dashboard_sessions,
    dashboard_sign_in_links,
    connect_sessions,
    cross_posts,
    cross_post_targets,
);
