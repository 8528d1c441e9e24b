//! [`ErrorCode`]: every `error_code` the API answers with, named once.
//!
//! The strings are the HTTP contract (clients match on them): never change one, add a variant.
//! Spec 001 (`textbook`) codes are lower-case, as that spec writes them; all others are
//! UPPER_SNAKE. The README's error-code table is generated from this list
//! ([`ErrorCode::markdown_table`]) and a test keeps the two equal; the OpenAPI `ErrorBody` schema
//! lists the codes too.

use std::fmt;

use axum::http::StatusCode;

/// Declares [`ErrorCode`] from one table: variant, wire string, statuses it comes with, and a
/// one-line meaning (the variant's doc comment, also used for the README table). A declarative
/// macro rather than a derive crate (strum) so each code is written exactly once with its
/// documentation, and the crate gains no dependency for one enum.
macro_rules! error_codes {
    ($(
        #[doc = $doc:literal]
        $variant:ident = $code:literal, [$($status:literal),+];
    )+) => {
        /// A stable, machine-readable error code (the `error_code` of every error body).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = $doc]
                $variant,
            )+
        }

        impl ErrorCode {
            /// Every code, in the order of the README table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as sent in `error_code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            /// The HTTP statuses this code is answered with.
            pub const fn statuses(self) -> &'static [u16] {
                match self {
                    $(ErrorCode::$variant => &[$($status),+],)+
                }
            }

            /// What the code means (one line).
            pub fn description(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $doc.trim(),)+
                }
            }
        }
    };
}

error_codes! {
    // Request shape, shared by every function.
    /// The body is not valid JSON, is empty, or a field has the wrong type.
    MalformedRequest = "MALFORMED_REQUEST", [400];
    /// One or more fields are invalid; `field_errors` names each.
    ValidationError = "VALIDATION_ERROR", [422];
    /// The body is larger than the request limit (1 MB; the video form 6 MB) or the upload URL allows.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", [413];
    /// The body's content type is not one the route accepts.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", [415];
    /// No route has this path.
    NotFound = "NOT_FOUND", [404];
    /// The route exists but not for this method.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", [405];
    /// Too many requests; retry after `Retry-After` seconds.
    TooManyRequests = "TOO_MANY_REQUESTS", [429];
    /// An unexpected server error (the cause is logged, never sent).
    InternalError = "INTERNAL_ERROR", [500];
    /// A backend is throttling or down; retry after `Retry-After` seconds.
    ServiceUnavailable = "SERVICE_UNAVAILABLE", [503];

    // Authentication and permissions.
    /// No bearer token was sent.
    NotAuthenticated = "NOT_AUTHENTICATED", [401];
    /// The token is malformed, badly signed, or names an account that does not exist.
    InvalidToken = "INVALID_TOKEN", [401];
    /// The token has expired.
    TokenExpired = "TOKEN_EXPIRED", [401];
    /// The account's roles or status changed after the token was issued; log in again.
    TokenRevoked = "TOKEN_REVOKED", [401];
    /// The account is deactivated (401 for a token, 403 at login and on the profile).
    AccountDisabled = "ACCOUNT_DISABLED", [401, 403];
    /// Wrong username or password (also for an unknown account).
    InvalidCredentials = "INVALID_CREDENTIALS", [401];
    /// Too many failed logins for this account from this address, or from this address.
    TooManyLoginAttempts = "TOO_MANY_LOGIN_ATTEMPTS", [429];
    /// The caller lacks the permission the route needs.
    Forbidden = "FORBIDDEN", [403];

    // Users and roles.
    /// The email is registered to another account.
    EmailTaken = "EMAIL_TAKEN", [409];
    /// The username is taken by another account.
    UsernameTaken = "USERNAME_TAKEN", [409];
    /// No user has this id.
    UserNotFound = "USER_NOT_FOUND", [404];
    /// No role has this name.
    RoleNotFound = "ROLE_NOT_FOUND", [404];
    /// An admin tried to deactivate their own account.
    SelfLockout = "SELF_LOCKOUT", [409];

    // Catalog.
    /// No product has this id (or it is not sold).
    ProductNotFound = "PRODUCT_NOT_FOUND", [404];
    /// No category (or parent category) has this id.
    CategoryNotFound = "CATEGORY_NOT_FOUND", [404];
    /// Another product has this code.
    ProductCodeTaken = "PRODUCT_CODE_TAKEN", [409];
    /// Another category has this slug.
    CategoryExists = "CATEGORY_EXISTS", [409];
    /// No search with this id (search events).
    SearchNotFound = "SEARCH_NOT_FOUND", [404];

    // Cart and orders.
    /// `X-Cart-Id` is not a cart id (UUID).
    InvalidCartId = "INVALID_CART_ID", [400];
    /// The product is not in the cart.
    CartItemNotFound = "CART_ITEM_NOT_FOUND", [404];
    /// Not enough stock for the quantity asked.
    InsufficientStock = "INSUFFICIENT_STOCK", [409];
    /// The cart holds as many different products as it may.
    CartFull = "CART_FULL", [409];
    /// An order was placed from an empty cart.
    CartEmpty = "CART_EMPTY", [400];
    /// The cart has more different products than one order may hold.
    CartTooLarge = "CART_TOO_LARGE", [400];
    /// A product in the cart is no longer sold.
    ProductUnavailable = "PRODUCT_UNAVAILABLE", [409];
    /// The cart changed while the order was placed; retry.
    CartChanged = "CART_CHANGED", [409];
    /// `Idempotency-Key` is not 1-100 visible ASCII characters.
    InvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY", [400];
    /// No order with this id (for this caller).
    OrderNotFound = "ORDER_NOT_FOUND", [404];
    /// The order's status cannot move to the one asked.
    InvalidStatusTransition = "INVALID_STATUS_TRANSITION", [409];

    // Videos and signed blob URLs.
    /// No video with this id (visible to the caller).
    VideoNotFound = "VIDEO_NOT_FOUND", [404];
    /// The video file is over 50 MB (6 MB in a form).
    FileTooLarge = "FILE_TOO_LARGE", [413];
    /// The uploaded file is not an MP4 video.
    InvalidVideo = "INVALID_VIDEO", [422];
    /// The signed URL's signature is missing or wrong.
    SignatureInvalid = "SIGNATURE_INVALID", [403];
    /// The signed URL has expired.
    SignatureExpired = "SIGNATURE_EXPIRED", [403];
    /// The upload's content type differs from the one signed into the URL.
    ContentTypeMismatch = "CONTENT_TYPE_MISMATCH", [403];
    /// The upload URL was used already; the file cannot be replaced.
    AlreadyUploaded = "ALREADY_UPLOADED", [412];
    /// The blob key or request is not valid.
    InvalidBlobRequest = "INVALID_BLOB_REQUEST", [400];
    /// The upload body could not be read.
    BodyReadFailed = "BODY_READ_FAILED", [400];

    // Classroom (spec 002).
    /// The content is over the size limit.
    ContentTooLarge = "CONTENT_TOO_LARGE", [413];
    /// No clustering has been computed yet.
    ClustersNotComputed = "CLUSTERS_NOT_COMPUTED", [404];
    /// No cluster has this id (clusters are 0-3).
    ClusterNotFound = "CLUSTER_NOT_FOUND", [404];
    /// Fewer distinct users than clusters.
    NotEnoughUsers = "NOT_ENOUGH_USERS", [409];
    /// Another recompute switched the clustering first.
    RecomputeConflict = "RECOMPUTE_CONFLICT", [409];

    // ML model management.
    /// A model training is already running; retry when it has finished.
    TrainingInProgress = "TRAINING_IN_PROGRESS", [409];
    /// No ML config has this id.
    ConfigNotFound = "CONFIG_NOT_FOUND", [404];
    /// An A/B experiment is already running on this recommendation type; stop it first.
    ExperimentRunning = "EXPERIMENT_RUNNING", [409];
    /// No A/B experiment has this id.
    ExperimentNotFound = "EXPERIMENT_NOT_FOUND", [404];
    /// The A/B experiment has already stopped.
    ExperimentNotRunning = "EXPERIMENT_NOT_RUNNING", [409];

    // User segmentation.
    /// No user segment has this id.
    SegmentNotFound = "SEGMENT_NOT_FOUND", [404];
    /// Another user segment already has this name (case-insensitive).
    SegmentNameTaken = "SEGMENT_NAME_TAKEN", [409];
    /// Fewer customers with orders in the lookback window than clusters asked for.
    NotEnoughCustomers = "NOT_ENOUGH_CUSTOMERS", [409];

    // Recommendations.
    /// No served recommendation list has this id (never served, or older than 7 days).
    RecommendationNotFound = "RECOMMENDATION_NOT_FOUND", [404];

    // Promotions and banners.
    /// No banner has this id.
    BannerNotFound = "BANNER_NOT_FOUND", [404];
    /// No RFM cluster has this id (the clusters of the latest generate-rfm run, numbered from 0).
    RfmClusterNotFound = "RFM_CLUSTER_NOT_FOUND", [404];
    /// The AI model refused the prompt (its content filter, or input it does not accept); `detail` gives its reason.
    PromptRefused = "PROMPT_REFUSED", [422];

    // Textbook (spec 001: lower-case codes).
    /// A required field is missing or empty.
    MissingRequiredField = "missing_required_field", [400];
    /// `difficulty_level` is not beginner, intermediate or advanced.
    InvalidDifficulty = "invalid_difficulty", [400];
    /// A session or chapter id is too long or has control characters.
    InvalidIdentifier = "invalid_identifier", [400];
    /// `reading_position` is negative.
    InvalidReadingPosition = "invalid_reading_position", [400];
    /// A preference (`preferred_format`, `content_focus`) is too long.
    InvalidPreference = "invalid_preference", [400];
    /// The personalization session is unknown, expired or deleted.
    SessionNotFound = "session_not_found", [404];
    /// The chapter is over the size limit (128 KiB).
    ChapterTooLarge = "content_too_large", [413];
    /// The content could not be adapted (503 with `Retry-After` while the model throttles).
    ProcessingError = "processing_error", [500, 503];
}

impl ErrorCode {
    /// The code for an error response that a layer below the handlers produced with only a
    /// status (axum's plain-text rejections): the code the handlers use for that status.
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::NotAuthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::ValidationError,
            429 => Self::TooManyRequests,
            503 => Self::ServiceUnavailable,
            s if s >= 500 => Self::InternalError,
            _ => Self::MalformedRequest,
        }
    }

    /// The code whose wire string is `s`.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }

    /// Checks an error response against the table: the code is one of [`ErrorCode::ALL`] and
    /// comes with one of its listed statuses. The test kits run it on every error they receive,
    /// so the README table cannot drift from what the handlers answer.
    pub fn check_documented(status: u16, code: &str) -> Result<(), String> {
        let known = Self::from_wire(code)
            .ok_or_else(|| format!("error code {code:?} is not in shared::error::ErrorCode"))?;
        if known.statuses().contains(&status) {
            Ok(())
        } else {
            Err(format!(
                "error code {code} came with status {status}, but ErrorCode::{known:?} lists {:?}",
                known.statuses()
            ))
        }
    }

    /// The README's error-code table (Markdown), generated from [`ErrorCode::ALL`].
    pub fn markdown_table() -> String {
        let mut out = String::from("| Code | Status | Meaning |\n|---|---|---|\n");
        for code in Self::ALL {
            let statuses: Vec<String> = code.statuses().iter().map(u16::to_string).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                statuses.join(", "),
                code.description()
            ));
        }
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ErrorCode::{self, *};

    /// The contract: each variant's wire string, written out literally.
    #[test]
    fn every_code_has_its_contract_string() {
        let expected: &[(ErrorCode, &str)] = &[
            (MalformedRequest, "MALFORMED_REQUEST"),
            (ValidationError, "VALIDATION_ERROR"),
            (PayloadTooLarge, "PAYLOAD_TOO_LARGE"),
            (UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
            (NotFound, "NOT_FOUND"),
            (MethodNotAllowed, "METHOD_NOT_ALLOWED"),
            (TooManyRequests, "TOO_MANY_REQUESTS"),
            (InternalError, "INTERNAL_ERROR"),
            (ServiceUnavailable, "SERVICE_UNAVAILABLE"),
            (NotAuthenticated, "NOT_AUTHENTICATED"),
            (InvalidToken, "INVALID_TOKEN"),
            (TokenExpired, "TOKEN_EXPIRED"),
            (TokenRevoked, "TOKEN_REVOKED"),
            (AccountDisabled, "ACCOUNT_DISABLED"),
            (InvalidCredentials, "INVALID_CREDENTIALS"),
            (TooManyLoginAttempts, "TOO_MANY_LOGIN_ATTEMPTS"),
            (Forbidden, "FORBIDDEN"),
            (EmailTaken, "EMAIL_TAKEN"),
            (UsernameTaken, "USERNAME_TAKEN"),
            (UserNotFound, "USER_NOT_FOUND"),
            (RoleNotFound, "ROLE_NOT_FOUND"),
            (SelfLockout, "SELF_LOCKOUT"),
            (ProductNotFound, "PRODUCT_NOT_FOUND"),
            (CategoryNotFound, "CATEGORY_NOT_FOUND"),
            (ProductCodeTaken, "PRODUCT_CODE_TAKEN"),
            (CategoryExists, "CATEGORY_EXISTS"),
            (SearchNotFound, "SEARCH_NOT_FOUND"),
            (InvalidCartId, "INVALID_CART_ID"),
            (CartItemNotFound, "CART_ITEM_NOT_FOUND"),
            (InsufficientStock, "INSUFFICIENT_STOCK"),
            (CartFull, "CART_FULL"),
            (CartEmpty, "CART_EMPTY"),
            (CartTooLarge, "CART_TOO_LARGE"),
            (ProductUnavailable, "PRODUCT_UNAVAILABLE"),
            (CartChanged, "CART_CHANGED"),
            (InvalidIdempotencyKey, "INVALID_IDEMPOTENCY_KEY"),
            (OrderNotFound, "ORDER_NOT_FOUND"),
            (InvalidStatusTransition, "INVALID_STATUS_TRANSITION"),
            (VideoNotFound, "VIDEO_NOT_FOUND"),
            (FileTooLarge, "FILE_TOO_LARGE"),
            (InvalidVideo, "INVALID_VIDEO"),
            (SignatureInvalid, "SIGNATURE_INVALID"),
            (SignatureExpired, "SIGNATURE_EXPIRED"),
            (ContentTypeMismatch, "CONTENT_TYPE_MISMATCH"),
            (AlreadyUploaded, "ALREADY_UPLOADED"),
            (InvalidBlobRequest, "INVALID_BLOB_REQUEST"),
            (BodyReadFailed, "BODY_READ_FAILED"),
            (ContentTooLarge, "CONTENT_TOO_LARGE"),
            (ClustersNotComputed, "CLUSTERS_NOT_COMPUTED"),
            (ClusterNotFound, "CLUSTER_NOT_FOUND"),
            (NotEnoughUsers, "NOT_ENOUGH_USERS"),
            (RecomputeConflict, "RECOMPUTE_CONFLICT"),
            (TrainingInProgress, "TRAINING_IN_PROGRESS"),
            (ConfigNotFound, "CONFIG_NOT_FOUND"),
            (SegmentNotFound, "SEGMENT_NOT_FOUND"),
            (SegmentNameTaken, "SEGMENT_NAME_TAKEN"),
            (NotEnoughCustomers, "NOT_ENOUGH_CUSTOMERS"),
            (RecommendationNotFound, "RECOMMENDATION_NOT_FOUND"),
            (BannerNotFound, "BANNER_NOT_FOUND"),
            (RfmClusterNotFound, "RFM_CLUSTER_NOT_FOUND"),
            (PromptRefused, "PROMPT_REFUSED"),
            (ExperimentRunning, "EXPERIMENT_RUNNING"),
            (ExperimentNotFound, "EXPERIMENT_NOT_FOUND"),
            (ExperimentNotRunning, "EXPERIMENT_NOT_RUNNING"),
            (MissingRequiredField, "missing_required_field"),
            (InvalidDifficulty, "invalid_difficulty"),
            (InvalidIdentifier, "invalid_identifier"),
            (InvalidReadingPosition, "invalid_reading_position"),
            (InvalidPreference, "invalid_preference"),
            (SessionNotFound, "session_not_found"),
            (ChapterTooLarge, "content_too_large"),
            (ProcessingError, "processing_error"),
        ];
        for (code, s) in expected {
            assert_eq!(code.as_str(), *s, "{code:?}");
            assert_eq!(code.to_string(), *s);
        }
        // And the list above covers every variant.
        let listed: BTreeSet<&str> = expected.iter().map(|(c, _)| c.as_str()).collect();
        let all: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
    }

    #[test]
    fn codes_are_unique_and_well_formed() {
        let all: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            all.len(),
            ErrorCode::ALL.len(),
            "a code string is used twice"
        );
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                    || s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s} mixes cases"
            );
            assert!(!code.description().is_empty());
            assert!(
                code.statuses().iter().all(|s| (400..600).contains(s)),
                "{code:?}"
            );
        }
    }

    /// The README's table is the generated one: a code added here must be documented there.
    #[test]
    fn readme_error_table_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let table = ErrorCode::markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's error-code table differs from shared::error::ErrorCode; paste this:\n{table}"
        );
    }

    /// Every code is produced somewhere outside this file: the list holds no dead codes the README
    /// would promise.
    #[test]
    fn every_code_is_used_by_the_code() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = String::new();
        let mut dirs = vec![root.join("shared/src"), root.join("functions")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "target") {
                        dirs.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("error/codes.rs")
                {
                    sources.push_str(&std::fs::read_to_string(&path).expect("read source"));
                }
            }
        }
        for code in ErrorCode::ALL {
            let name = format!("ErrorCode::{code:?}");
            assert!(
                sources.contains(&format!("{name},"))
                    || sources.contains(&format!("{name})"))
                    || sources.contains(&format!("{name}\n"))
                    || sources.contains(&format!("{name} ")),
                "{name} is never used"
            );
        }
    }

    #[test]
    fn responses_are_checked_against_the_table() {
        assert_eq!(ErrorCode::from_wire("VIDEO_NOT_FOUND"), Some(VideoNotFound));
        assert_eq!(ErrorCode::from_wire("video_not_found"), None);
        assert!(ErrorCode::check_documented(404, "VIDEO_NOT_FOUND").is_ok());
        assert!(ErrorCode::check_documented(403, "ACCOUNT_DISABLED").is_ok());
        assert!(ErrorCode::check_documented(401, "ACCOUNT_DISABLED").is_ok());
        assert!(ErrorCode::check_documented(409, "VIDEO_NOT_FOUND").is_err());
        assert!(ErrorCode::check_documented(400, "NO_SUCH_CODE").is_err());
    }

    #[test]
    fn plain_statuses_map_to_the_handlers_codes() {
        use axum::http::StatusCode;
        assert_eq!(
            ErrorCode::for_status(StatusCode::BAD_REQUEST),
            MalformedRequest
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            PayloadTooLarge
        );
        assert_eq!(ErrorCode::for_status(StatusCode::NOT_FOUND), NotFound);
        assert_eq!(
            ErrorCode::for_status(StatusCode::METHOD_NOT_ALLOWED),
            MethodNotAllowed
        );
        assert_eq!(
            ErrorCode::for_status(StatusCode::BAD_GATEWAY),
            InternalError
        );
    }
}
