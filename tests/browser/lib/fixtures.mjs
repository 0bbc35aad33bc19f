// The files the browser test uploads: Korean names, pictures of known sizes and colours, a text file.
import { png } from './png.mjs';

export const KOREAN_PNG = '한글 이미지 테스트.png';
export const KOREAN_TXT = '회의록 메모.txt';
export const DROPPED_PNG = '끌어다 놓은 사진.png';
export const KEYBOARD_PNG = '키보드로 고른 그림.png';
export const BIG_FILE = '발표 자료 (큰 파일).bin';
export const CANCELLED_FILE = '취소할 파일.bin';

/** The picture uploaded first, shown in the screenshots and the URL test. */
export const IMAGE_SIZE = { width: 240, height: 160 };
export const image = png(IMAGE_SIZE.width, IMAGE_SIZE.height);
