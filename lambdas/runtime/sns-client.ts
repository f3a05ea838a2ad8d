import { SNSClient } from '@aws-sdk/client-sns';

/** The SNS client, once per container; only the report handler's bundle imports it. */
export const snsClient = new SNSClient({});
