//! The JWT signing key read from Secrets Manager (`JWT_SECRET_ARN`), against the AWS emulator at
//! `TEST_AWS_ENDPOINT` (ignored unless run with `--include-ignored`, as `tests/run.sh` does).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::config::Config;

async fn emulator_sdk() -> aws_config::SdkConfig {
    let endpoint = std::env::var("TEST_AWS_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TEST_AWS_ENDPOINT is not set: the Secrets Manager tests need the AWS emulator. \
             Run tests/run.sh, or start moto_server and set TEST_AWS_ENDPOINT=http://127.0.0.1:PORT"
        )
    });
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test",
            "test",
            None,
            None,
            "jwt-secret",
        ))
        .load()
        .await
}

async fn create_secret(sdk: &aws_config::SdkConfig, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(format!("jwt-{}", uuid::Uuid::new_v4()))
        .secret_string(value)
        .send()
        .await
        .expect("create the secret on the emulator")
        .arn()
        .expect("arn")
        .to_string()
}

fn cloud_config(arn: &str) -> Config {
    Config::from_lookup(|k| match k {
        "STORE" => Some("dynamodb".into()),
        "JWT_SECRET_ARN" => Some(arn.into()),
        _ => None,
    })
    .expect("a cloud config with JWT_SECRET_ARN and no JWT_SECRET")
}

#[tokio::test]
#[ignore = "needs the AWS emulator: run tests/run.sh"]
async fn the_signing_key_comes_from_the_named_secret() {
    let sdk = emulator_sdk().await;
    let key = "k".repeat(48);
    let arn = create_secret(&sdk, &key).await;
    let mut config = cloud_config(&arn);
    assert!(config.jwt_secret.expose().is_empty(), "nothing read yet");
    config.resolve_jwt_secret(&sdk).await.unwrap();
    assert_eq!(config.jwt_secret.expose(), key);
    assert_eq!(
        config.blob_signing_secret.expose(),
        format!("blob-signing:{key}")
    );
}

#[tokio::test]
#[ignore = "needs the AWS emulator: run tests/run.sh"]
async fn a_short_or_missing_secret_is_refused() {
    let sdk = emulator_sdk().await;
    let arn = create_secret(&sdk, "too-short").await;
    let mut config = cloud_config(&arn);
    let err = config.resolve_jwt_secret(&sdk).await.unwrap_err();
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");

    let mut config = cloud_config("arn:aws:secretsmanager:us-east-1:123456789012:secret:nope");
    assert!(config.resolve_jwt_secret(&sdk).await.is_err());
}

#[test]
fn an_unread_secret_never_signs_tokens() {
    let config = cloud_config("arn:aws:secretsmanager:us-east-1:123456789012:secret:x");
    let err = shared::AppState::from_config_and_sdk(config, None).expect_err("refused");
    assert!(err.to_string().contains("JWT_SECRET_ARN"), "{err}");
}
