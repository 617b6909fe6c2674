import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// The AWS providers: `aws-autoscaling` (an instance group), `route53` (a DNS zone) and `s3`
/// (an object store), signed with SigV4. Credentials are secret references, by default the
/// environment variables the AWS CLI reads.
public enum AWSProviders {
    public static func adapters(http: HTTPClient) -> [ProviderAdapter] {
        [
            ProviderAdapter(schema: autoScalingSchema, instanceGroup: { target, secret in
                let region = try target.required("region")
                return AutoScalingGroup(
                    aws: try client(target, service: "autoscaling", region: region, defaultEndpoint: "https://autoscaling.\(region).amazonaws.com", secret, http),
                    name: try target.required("name"))
            }),
            ProviderAdapter(schema: route53Schema, dnsZone: { target, secret in
                Route53Zone(
                    aws: try client(target, service: "route53", region: target.string("region") ?? "us-east-1", defaultEndpoint: "https://route53.amazonaws.com", secret, http),
                    hostedZone: target.string("hostedZone"), zoneName: target.string("zone").map(fqdn))
            }),
            ProviderAdapter(schema: s3Schema, objectStore: { target, secret in
                let region = try target.required("region")
                return S3Bucket(
                    aws: try client(target, service: "s3", region: region, defaultEndpoint: "https://s3.\(region).amazonaws.com", secret, http),
                    bucket: try target.required("bucket"))
            }),
        ]
    }

    /// The fields every AWS target takes.
    static let access = [
        ParameterField("endpoint", .url, "the API endpoint (default: the service's public endpoint for the region; moto_server in the sandbox)"),
        ParameterField("accessKey", .secret(literalAllowed: false), "a reference to the access key id", default: .string("env:AWS_ACCESS_KEY_ID")),
        ParameterField("secretKey", .secret(literalAllowed: false), "a reference to the secret access key", default: .string("env:AWS_SECRET_ACCESS_KEY")),
        ParameterField("sessionToken", .secret(literalAllowed: false), "a reference to a session token, for temporary credentials (default: env:AWS_SESSION_TOKEN when that is set)"),
    ]

    public static let autoScalingSchema = ProviderSchema(
        name: "aws-autoscaling", summary: "an EC2 Auto Scaling group", capabilities: [.instanceGroup],
        fields: [
            ParameterField("region", .string, required: true, "the group's region, like us-east-1"),
            ParameterField("name", .string, required: true, "the Auto Scaling group name"),
        ] + access)

    public static let route53Schema = ProviderSchema(
        name: "route53", summary: "a Route 53 hosted zone", capabilities: [.dnsZone],
        fields: [
            ParameterField("hostedZone", .string, "the hosted zone id (Z...), or give zone"),
            ParameterField("zone", .string, "the zone's name, like example.com., looked up when hostedZone is not given"),
            ParameterField("region", .string, "the signing region", default: .string("us-east-1")),
        ] + access,
        rules: { target in
            target["hostedZone"] == nil && target["zone"] == nil
                ? [("hostedZone", "missing; provider route53 needs hostedZone (the hosted zone id, like Z0123456789ABC) or zone (its name, like example.com.)")]
                : []
        })

    public static let s3Schema = ProviderSchema(
        name: "s3", summary: "an S3 bucket", capabilities: [.objectStore],
        fields: [
            ParameterField("region", .string, required: true, "the bucket's region, like us-east-1"),
            ParameterField("bucket", .string, required: true, "the bucket name"),
        ] + access,
        rules: { target in
            guard let b = target["bucket"]?.stringValue, !b.contains("${") else { return [] }
            let ascii = b.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
            let ends = b.unicodeScalars.first.map { $0 != "-" && $0 != "." } == true && b.unicodeScalars.last.map { $0 != "-" && $0 != "." } == true
            let ok = (3...63).contains(b.utf8.count) && ascii && ends && !b.contains("..")
            return ok ? [] : [("bucket", "expected an S3 bucket name (3 to 63 lowercase letters, digits, \"-\" or \".\", starting and ending with a letter or digit), got \"\(b)\"")]
        })

    static func client(
        _ target: ProviderTarget, service: String, region: String, defaultEndpoint: String, _ secret: SecretReader, _ http: HTTPClient
    ) throws -> AWSClient {
        let credentials = AWSCredentials(
            accessKey: try secret(target.string("accessKey") ?? "env:AWS_ACCESS_KEY_ID"),
            secretKey: try secret(target.string("secretKey") ?? "env:AWS_SECRET_ACCESS_KEY"),
            // Temporary credentials (SSO, an assumed role) come with a token, as the AWS CLI reads them.
            sessionToken: try target.string("sessionToken").map { try secret($0) } ?? (try secret.ifSet("env:AWS_SESSION_TOKEN")))
        let signer = AWSSigner(credentials: credentials, region: region, service: service)
        return AWSClient(endpoint: target.string("endpoint") ?? defaultEndpoint, signer: signer, http: http)
    }
}
